//! The README's "Run it for real", run as written: its fenced blocks, read from
//! README.md, in order, each in the bash of its terminal (one long-lived bash
//! per terminal, so that what a terminal exported stays set, as it would). A
//! block marked "(keeps running)" starts a server that its terminal then runs
//! until the end. The test changes only the settings of the first block (where
//! the files go, the ports, the cgroup v2 mount, the PATH to this build) and the
//! verifier's database URL (a fresh schema on `ZKMETER_TEST_POSTGRES_URL`).
//!
//! Where no cgroup v2 can be created, the test follows the README's own fallback
//! (skip the cgroup block, leave the `cgroup` line out: the host's `/proc/stat`
//! CPU time is metered) and says so.
//!
//! At the end, with the prover daemon stopped, every cross-check of chain state
//! uses `cast`, not zkmeter's client: the job is closed with nothing left in
//! escrow; the `Settled` events (`cast logs`) are the epochs of the meter's log
//! up to the chain's stream state, and `zkmeter history` lists exactly them; the
//! provider holds what they billed, and the consumer what it issued itself less
//! that.
//!
//! Needs anvil and cast (`npm ci` in contracts/), PostgreSQL
//! (`ZKMETER_TEST_POSTGRES_URL`, from `bash store/scripts/start-postgres.sh`,
//! and its `psql`), and `zkmeter-verifier` and `zkmeter-prover` built beside
//! `zkmeter` (`cargo test --workspace` builds them). Without them the test says
//! so and passes, except under CI (`CI` set), where it fails.

use serde_json::Value;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use zkmeter_circuits::StreamId;
use zkmeter_prover::identity::MeterKey;
use zkmeter_prover::stream_log::StreamLog;

const PROVIDER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const CONSUMER: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
/// The cpu tokens the consumer issues itself in the README (`cpu=1h`).
const ISSUED_CPU: u128 = 3_600_000;
/// Longest wait for a block to finish or a server to answer.
const STEP_TIMEOUT: Duration = Duration::from_secs(240);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Skips (saying why) or, under CI, fails.
fn missing(what: &str) -> Option<()> {
    let help = format!("the README walkthrough needs {what}");
    assert!(std::env::var_os("CI").is_none(), "{help}");
    eprintln!("skipping: {help}");
    None
}

/// One fenced `sh` block of the section: its terminal (0 for the settings every
/// terminal runs first) and its text.
struct Block {
    terminal: u32,
    title: String,
    text: String,
}

fn blocks(readme: &str) -> Vec<Block> {
    let start = readme.find("\n## Run it for real\n").expect("README.md has a \"Run it for real\" section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)];
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```sh" {
            continue;
        }
        let text: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let title = text.first().copied().unwrap_or_default().to_owned();
        let terminal = title
            .strip_prefix("# terminal ")
            .and_then(|t| t.split(':').next())
            .map_or(0, |n| n.trim().parse().expect("a terminal number"));
        out.push(Block { terminal, title, text: text.join("\n") + "\n" });
    }
    out
}

/// Replaces `export NAME=…` of each of `settings` in `text`; returns the names found.
fn override_settings(text: &str, settings: &[(&str, String)]) -> (String, Vec<String>) {
    let mut found = Vec::new();
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            for (name, value) in settings {
                if line.starts_with(&format!("export {name}=")) {
                    found.push(name.to_string());
                    return format!("export {name}={value}");
                }
            }
            line.to_owned()
        })
        .collect();
    (lines.join("\n") + "\n", found)
}

/// A terminal: a bash that runs the blocks written to it, each with its stdin
/// from /dev/null, exiting at the first failing command; its output goes to a
/// log file, and after each block it writes how many it finished.
struct Terminal {
    number: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
    done: PathBuf,
    sent: u32,
}

const DRIVER: &str = r#"set -e
n=0
while IFS= read -r -d '' block; do
  eval "$block" </dev/null
  n=$((n+1)); echo $n > "$TERMINAL_DONE"
done
"#;

impl Terminal {
    fn open(number: u32, dir: &Path) -> Terminal {
        let log = dir.join(format!("terminal-{number}.log"));
        let done = dir.join(format!("terminal-{number}.done"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("bash")
            .args(["--noprofile", "--norc", "-c", DRIVER])
            .current_dir(root())
            .env("TERMINAL_DONE", &done)
            .env_remove("ZKMETER_RPC_URL")
            .env_remove("ZKMETER_PRIVATE_KEY")
            .env_remove("ZKMETER_DATA_DIR")
            .env_remove("ZKMETER_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("bash starts");
        let mut child = child;
        let stdin = child.stdin.take().unwrap();
        Terminal { number, child, stdin: Some(stdin), log, done, sent: 0 }
    }

    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("the terminal is open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.write_all(b"\0").unwrap();
        stdin.flush().unwrap();
        self.sent += 1;
    }

    fn finished(&self) -> u32 {
        std::fs::read_to_string(&self.done).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the terminal's output if its bash has exited (a command failed).
    fn check_alive(&mut self, what: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("terminal {} exited ({status}) while {what}; its output:\n{}", self.number, self.output());
        }
    }

    /// Waits until every block sent has finished.
    fn wait(&mut self, title: &str) {
        let start = Instant::now();
        while self.finished() < self.sent {
            self.check_alive(&format!("running {title:?}"));
            assert!(start.elapsed() < STEP_TIMEOUT, "{title:?} did not finish; terminal {} says:\n{}", self.number, self.output());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C to everything in the terminal's process group, then the end of
    /// its input (a server that stops cleanly leaves its shell reading on);
    /// waits for the shell to exit.
    fn interrupt(&mut self) -> bool {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-INT", "--", &group]).stderr(Stdio::null()).status();
        self.stdin = None;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        // The group is gone if everything in it has exited already.
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

/// A cgroup v2 this test created: its processes are killed and it is removed when dropped.
struct Cgroup(PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("cgroup.kill"), "1");
        for _ in 0..50 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Where cgroup v2 is mounted, if this process may create a cgroup there (with a
/// `cpu.stat` that counts usage); else why not.
fn cgroup_root() -> Result<PathBuf, String> {
    let mounts = std::fs::read_to_string("/proc/mounts").map_err(|e| format!("cannot read /proc/mounts: {e}"))?;
    let root = mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(2) == Some(&"cgroup2"))
        .map(|f| PathBuf::from(f[1]))
        .ok_or("no cgroup v2 is mounted")?;
    let probe = root.join(format!("zkmeter-walkthrough-probe-{}", std::process::id()));
    std::fs::create_dir(&probe).map_err(|e| format!("cannot create a cgroup under {} ({e})", root.display()))?;
    let usable = std::fs::read_to_string(probe.join("cpu.stat")).is_ok_and(|s| s.contains("usage_usec"));
    let _ = std::fs::remove_dir(&probe);
    if usable { Ok(root) } else { Err(format!("{} has no usage_usec in cpu.stat", root.display())) }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, terminal: &mut Terminal, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        terminal.check_alive(&format!("starting {what}"));
        assert!(start.elapsed() < STEP_TIMEOUT, "{what} did not listen on port {port}:\n{}", terminal.output());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `psql` from PATH or Debian's PostgreSQL directory.
fn psql() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("psql"))
        .find(|p| p.is_file());
    in_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin/psql")).collect();
        found.sort();
        found.pop().filter(|p| p.is_file())
    })
}

/// A fresh schema on the test server, and the URL that uses it.
fn fresh_schema(psql: &Path, url: &str) -> String {
    let schema = format!("walkthrough_{}", std::process::id());
    let run = Command::new(psql)
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")])
        .output()
        .expect("psql runs");
    assert!(run.status.success(), "cannot make a schema on {url}: {}", String::from_utf8_lossy(&run.stderr));
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// `cast` with the node's URL; its output parsed as JSON.
fn cast(cast: &Path, url: &str, args: &[&str]) -> Value {
    let out = Command::new(cast).args(args).args(["--rpc-url", url, "--json"]).output().expect("cast runs");
    assert!(out.status.success(), "cast {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("cast {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn number(v: &Value) -> u128 {
    match v {
        Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => u128::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{s} is not a number")),
            None => s.split_whitespace().next().unwrap_or_default().parse().unwrap_or_else(|_| panic!("{s} is not a number")),
        },
        Value::Number(n) => n.as_u64().expect("a u64").into(),
        _ => panic!("{v} is not a number"),
    }
}

/// Bits `offset..offset + bits` of a 32-byte big-endian word given in hex.
fn bits(word_hex: &str, offset: usize, bits: usize) -> u128 {
    let bytes: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&word_hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    (offset..offset + bits).filter(|b| bytes[31 - b / 8] >> (b % 8) & 1 == 1).map(|b| 1u128 << (b - offset)).sum()
}

#[test]
fn the_readme_walkthrough_runs_as_written_and_the_balances_match_the_meter_log() {
    let started = Instant::now();
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_zkmeter")).parent().unwrap().to_owned();
    let node_bin = root().join("contracts/node_modules/.bin");
    let cast_bin = node_bin.join("cast");
    if !node_bin.join("anvil").is_file() || !cast_bin.is_file() {
        return missing("anvil and cast: run `npm ci` in contracts/").unwrap_or(());
    }
    for daemon in ["zkmeter-verifier", "zkmeter-prover"] {
        if !bin_dir.join(daemon).is_file() {
            return missing(&format!("{daemon} beside {}: run `cargo test --workspace`", bin_dir.display())).unwrap_or(());
        }
    }
    let Ok(postgres) = std::env::var("ZKMETER_TEST_POSTGRES_URL") else {
        return missing("PostgreSQL: export ZKMETER_TEST_POSTGRES_URL=\"$(bash store/scripts/start-postgres.sh)\"").unwrap_or(());
    };
    let Some(psql) = psql() else { return missing("psql (Debian's postgresql package)").unwrap_or(()) };

    let dir = tempfile::tempdir().unwrap();
    let walk = dir.path().join("walk");
    let (anvil_port, verifier_port) = (free_port(), free_port());
    let cgroup = cgroup_root();
    let cgroup_root = match &cgroup {
        Ok(root) => {
            eprintln!("metering the workload's cgroup v2 under {}", root.display());
            root.clone()
        }
        Err(why) => {
            eprintln!(
                "cgroup v2 delegation is not available here ({why}): following the README's fallback, \
                 the meter bills the host's CPU time from /proc/stat"
            );
            PathBuf::from("/nonexistent")
        }
    };
    let path = format!("{}:{}:$PATH", bin_dir.display(), node_bin.display());
    let settings = [
        ("PATH", format!("\"{path}\"")),
        ("WALKTHROUGH", walk.display().to_string()),
        ("ANVIL_PORT", anvil_port.to_string()),
        ("VERIFIER_PORT", verifier_port.to_string()),
        ("CGROUP_ROOT", cgroup_root.display().to_string()),
        ("ZKMETER_DATABASE_URL", format!("'{}'", fresh_schema(&psql, &postgres))),
    ];
    std::fs::create_dir_all(&walk).unwrap();
    let _cleanup = cgroup.is_ok().then(|| Cgroup(cgroup_root.join("zkmeter-walkthrough-job-1")));

    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = blocks(&readme);
    assert!(blocks.len() >= 8 && blocks[0].terminal == 0, "the walkthrough's blocks: settings first, then terminals");
    let mut found = Vec::new();
    let mut terminals: Vec<Terminal> = Vec::new();
    let mut preamble = String::new();
    for block in &blocks {
        let (mut text, names) = override_settings(&block.text, &settings);
        found.extend(names);
        if block.terminal == 0 {
            preamble = text;
            continue;
        }
        if block.title.contains("(cgroup)") && cgroup.is_err() {
            eprintln!("skipping {:?} (no cgroup v2 here, as the README says)", block.title);
            continue;
        }
        if cgroup.is_err() {
            text = text.lines().filter(|l| !l.starts_with("cgroup = ")).map(|l| format!("{l}\n")).collect();
        }
        let index = match terminals.iter().position(|t| t.number == block.terminal) {
            Some(i) => i,
            None => {
                let mut t = Terminal::open(block.terminal, dir.path());
                t.send(&preamble);
                terminals.push(t);
                terminals.len() - 1
            }
        };
        let terminal = &mut terminals[index];
        eprintln!("[{:>5.1} s] terminal {}: {}", started.elapsed().as_secs_f64(), block.terminal, block.title);
        terminal.send(&text);
        if !block.title.contains("(keeps running)") {
            terminal.wait(&block.title);
        } else if text.contains("anvil ") {
            wait_for_port(anvil_port, terminal, "anvil");
        } else if text.contains("zkmeter-verifier ") {
            wait_for_port(verifier_port, terminal, "the verifier service");
        }
    }
    found.sort();
    found.dedup();
    let mut expected: Vec<String> = settings.iter().map(|(n, _)| n.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "the README sets each setting the test overrides");
    let consumer_out = terminals.iter().find(|t| t.number == 5).expect("a consumer terminal").output();
    eprintln!("[{:>5.1} s] the README's commands ran; the consumer saw:\n{consumer_out}", started.elapsed().as_secs_f64());

    // Stop the prover daemon (Ctrl-C in its terminal) so that its log can be read.
    let provider = terminals.iter_mut().find(|t| t.number == 4).expect("a provider terminal");
    assert!(provider.interrupt(), "the prover daemon did not stop on SIGINT:\n{}", provider.output());
    let provider_out = provider.output();

    // The chain, read with cast.
    let url = format!("http://127.0.0.1:{anvil_port}");
    let deployment: Value =
        serde_json::from_slice(&std::fs::read(walk.join("zkmeter/deployments/chain-31337.json")).unwrap()).unwrap();
    let (settlement, token) = (deployment["settlement"].as_str().unwrap(), deployment["token"].as_str().unwrap());
    let job = cast(
        &cast_bin,
        &url,
        &["call", settlement, "jobInfo(uint64)((address,address,address,uint48[5],uint64,uint8,(uint256,uint64,uint64),uint128[5]))", "1"],
    );
    // cast prints the tuple as a JSON array: consumer, provider, meter, capacity,
    // expiry, status, stream state (head, seq, end ms), escrow.
    let job = job[0].as_array().unwrap_or_else(|| panic!("cast prints the tuple as an array: {job}"));
    let address = |v: &Value| v.as_str().unwrap_or_default().to_lowercase();
    assert_eq!(
        (address(&job[0]), address(&job[1])),
        (CONSUMER.to_lowercase(), PROVIDER.to_lowercase()),
        "job 1 of the consumer on the provider's meter: {job:?}"
    );
    assert!(job[7].as_array().unwrap().iter().all(|e| number(e) == 0), "closed jobs hold no escrow: {job:?}");
    assert_eq!(number(&job[5]), 2, "job 1 is closed: {job:?}");
    let chain_seq = number(&job[6][1]) as u64;
    let balance = |account: &str| number(&cast(&cast_bin, &url, &["call", token, "balanceOf(address,uint256)(uint256)", account, "1"])[0]);
    let (provider_cpu, consumer_cpu) = (balance(PROVIDER), balance(CONSUMER));

    let logs = cast(
        &cast_bin,
        &url,
        &["logs", "--from-block", "0", "--address", settlement, "Settled(uint64 indexed,bytes32 indexed,address indexed,uint256,uint256,uint256,uint256[5])"],
    );
    let logs = logs.as_array().expect("cast logs prints a list");
    assert!(logs.len() >= 2, "the consumer waited for two epochs: {logs:?}\nprover:\n{provider_out}");
    let mut billed = 0;
    let mut last_seq = 0;
    for log in logs {
        let data = log["data"].as_str().unwrap().trim_start_matches("0x");
        let word = |i: usize| &data[64 * i..64 * (i + 1)];
        // data: head, epoch (prev seq | prev end << 64 | end << 128 | count << 192), totals, paid[5]
        let (prev_seq, count) = (bits(word(1), 0, 64), bits(word(1), 192, 32));
        assert_eq!(prev_seq as u64, last_seq, "epochs chain: {log}");
        last_seq += count as u64;
        let cpu = bits(word(2), 44, 44);
        assert_eq!(bits(word(4), 0, 128), cpu, "at the default tariff an epoch burns its usage");
        assert_eq!(bits(word(4), 128, 128), cpu, "no fee: the provider is paid it all");
        billed += cpu;
    }
    assert_eq!(last_seq, chain_seq, "the events end at the stream state");
    assert!(billed > 0, "the workload used the CPU");
    assert_eq!(provider_cpu, billed, "the provider holds what the epochs billed");
    assert_eq!(consumer_cpu, ISSUED_CPU - billed, "the consumer got back all it did not use");

    // The meter's log: its epochs up to the chain's state are the settled ones.
    let meter = MeterKey::load(&walk.join("meter.key")).expect("the meter key").address();
    let stream = StreamId { meter: meter.0.0, job_id: 1 };
    let (log, _) = StreamLog::open(&walk.join("prover/streams/job-1.v2.log"), stream)
        .expect("the meter's log reads")
        .expect("the daemon wrote a log");
    let (_, mut logged) = log.settled();
    assert!(log.settled_seq() <= chain_seq, "the log never counts an epoch settled that the chain lacks");
    let mut boundary = log.settled_seq() == chain_seq;
    for epoch in log.epochs().iter().filter(|e| e.settled.is_none() && e.cut.statement.new.seq <= chain_seq) {
        // Settled on chain while the daemon was stopping, before it saw the receipt.
        logged.0[1] += epoch.cut.statement.totals.0[1];
        boundary |= epoch.cut.statement.new.seq == chain_seq;
    }
    assert!(boundary, "the chain's stream state is one the meter's log reached");
    assert_eq!(u128::from(logged.0[1]), billed, "the meter's log and the chain agree on what was billed");

    // zkmeter's history lists exactly the events cast sees.
    let history = Command::new(bin_dir.join("zkmeter"))
        .args(["history", "--job", "1", "--json", "--rpc-url", &url, "--data-dir"])
        .arg(walk.join("zkmeter"))
        .output()
        .unwrap();
    let history: Value = serde_json::from_slice(&history.stdout).expect("history --json");
    let entries = history["entries"].as_array().unwrap();
    let tx = |v: &Value| v.as_str().unwrap().to_lowercase();
    assert_eq!(
        entries.iter().map(|e| tx(&e["settled"]["tx_hash"])).collect::<Vec<_>>(),
        logs.iter().map(|l| tx(&l["transactionHash"])).collect::<Vec<_>>()
    );
    let totals = &history["jobs"][0];
    assert_eq!(number(&totals["burned"]["cpu"]) + number(&totals["refunded"]["cpu"]), number(&totals["escrowed"]["cpu"]));
    assert!(consumer_out.contains("refunded cpu"), "{consumer_out}");
    eprintln!("[{:>5.1} s] {} epochs, {billed} core-ms billed, checked against the meter's log", started.elapsed().as_secs_f64(), logs.len());
}
