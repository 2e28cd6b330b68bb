//! Crash safety with the real binaries: `zkmeter-prover` replays a recorded meter
//! into a stream served by a real `zkmeter-verifier` on loopback, settling on the
//! embedded chain. The prover is SIGKILLed at each point of its pipeline
//! (`ZKMETER_PROVER_PAUSE_AT`) and at random moments, the verifier at random
//! moments too, and both are restarted. In the end the chain has settled every
//! record the meter produced exactly once: the same count and the same totals.

#[path = "../../contracts/tests/common/mod.rs"]
mod common;

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zkmeter_circuits::keys::{KeyKind, key_paths, write_key};
use zkmeter_circuits::{ResourceClass, StreamId};
use zkmeter_contracts::{DEPLOYMENT_FILE, Deployment, EmbeddedChain, U256, meter_address};
use zkmeter_prover::pause_point::{PAUSE_AT_ENV, PAUSED};
use zkmeter_prover::stream_log::StreamLog;

/// Readings in the recorded meter file.
const READINGS: u64 = 40;

/// The quantity of reading `i` (GPU-ms over 1 s: below the 8 GPU capacity).
fn quantity(i: u64) -> u64 {
    1_000 + (i * 379) % 5_000
}

/// A child process, SIGKILLed when dropped.
struct Proc(Child);

impl Proc {
    fn kill(mut self) {
        let _ = self.0.kill(); // SIGKILL
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `zkmeter-verifier` beside this test's binary: `cargo test --workspace` builds it.
fn verifier_binary() -> Option<PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_owned();
    let bin = deps.parent()?.join("zkmeter-verifier");
    bin.exists().then_some(bin)
}

fn start_verifier(bin: &Path, dir: &Path, port: u16) -> Proc {
    let mut child = Command::new(bin)
        .args(["--data-dir", dir.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}"), "--max-wait-ms", "1"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start zkmeter-verifier");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on "), "unexpected first line {line:?}");
    Proc(child)
}

/// Starts the prover daemon; its stderr lines arrive on the returned channel.
fn start_prover(config: &Path, pause_at: Option<&str>, exit_when_settled: bool) -> (Proc, mpsc::Receiver<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zkmeter-prover"));
    command.arg("--config").arg(config).env("RUST_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::piped());
    if exit_when_settled {
        command.arg("--exit-when-settled");
    }
    if let Some(point) = pause_at {
        command.env(PAUSE_AT_ENV, point);
    }
    let mut child = command.spawn().expect("start zkmeter-prover");
    let stderr = child.stderr.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[prover] {line}");
            let _ = send.send(line);
        }
    });
    (Proc(child), lines)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The data directories: keys and the chain for the verifier, the meter's key,
/// its recorded readings and the daemon's configuration.
fn prepare(root: &Path, port: u16) -> (PathBuf, u64, PathBuf) {
    let zk = root.join("verifier");
    let prover = prover();
    let (pk_path, vk_path) = key_paths(&zk.join("keys"), SLOTS);
    write_key(&pk_path, KeyKind::Proving, &prover.shape().header, prover.proving_key()).unwrap();
    write_key(&vk_path, KeyKind::Verifying, &prover.shape().header, prover.verifying_key()).unwrap();
    let chain_dir = zk.join("chain");
    let mut chain = EmbeddedChain::open(&chain_dir).unwrap();
    let (_, job) = setup_job(&mut chain, &prover, Some(&chain_dir.join(DEPLOYMENT_FILE)));
    drop(chain);

    let key_file = root.join("meter.key");
    std::fs::write(&key_file, format!("0x{}\n", hex::encode(meter_key().to_bytes()))).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let replay = root.join("gpu.jsonl");
    let mut f = std::fs::File::create(&replay).unwrap();
    for i in 0..READINGS {
        let start = 1_700_000_000_000 + i * 1_000;
        writeln!(f, r#"{{"start_ms":{start},"end_ms":{},"class":"gpu","quantity":{}}}"#, start + 1_000, quantity(i)).unwrap();
    }
    let c = CAPACITY.0;
    let config = root.join("prover.toml");
    std::fs::write(
        &config,
        format!(
            r#"
data_dir = "{pd}"
keys_dir = "{keys}"
slots = {SLOTS}
verifier_url = "http://127.0.0.1:{port}"
backend = "cpu"
sample_interval_ms = 25

[epoch]
max_age_ms = 300

[submit]
backoff_initial_ms = 50
backoff_max_ms = 400
poll_ms = 40

[[stream]]
job_id = {job}
key_file = "{key}"
capacity = {{ gpu = {}, cpu = {}, storage = {}, network = {}, energy = {} }}
meter = {{ kind = "replay", path = "{replay}", class = "gpu", speed = "fast", batch = 1 }}
"#,
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            pd = root.join("prover").display(),
            keys = zk.join("keys").display(),
            key = key_file.display(),
            replay = replay.display(),
        ),
    )
    .unwrap();
    (zk, job, config)
}

fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("the prover never printed {needle:?}");
}

#[test]
fn sigkill_anywhere_settles_every_record_exactly_once() {
    let Some(verifier_bin) = verifier_binary() else {
        eprintln!("SKIPPED: zkmeter-verifier is not built beside this test; run `cargo test --workspace`");
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let port = free_port();
    let (zk, job, config) = prepare(root.path(), port);
    let mut verifier = start_verifier(&verifier_bin, &zk, port);

    // At each point of the pipeline.
    for point in ["after-log", "after-cut", "after-prove", "after-submit"] {
        let (prover, lines) = start_prover(&config, Some(point), false);
        wait_for_line(&lines, &format!("{PAUSED}{point}"));
        prover.kill();
    }
    // At random moments, the verifier too.
    let mut rng = ChaCha20Rng::seed_from_u64(20261201);
    for round in 0..6 {
        let (prover, _lines) = start_prover(&config, None, false);
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..900)));
        prover.kill();
        if round % 2 == 1 {
            verifier.kill();
            verifier = start_verifier(&verifier_bin, &zk, port);
        }
    }
    // Then to the end.
    let (mut prover, _lines) = start_prover(&config, None, true);
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = prover.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the prover did not settle everything within 180 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the prover failed: {status}");
    verifier.kill();

    let billed: u64 = (0..READINGS).map(quantity).sum();
    let d = Deployment::load(&zk.join("chain").join(DEPLOYMENT_FILE)).unwrap();
    let mut chain = EmbeddedChain::open(&zk.join("chain")).unwrap();
    let state = d.stream_state(&mut chain, job).unwrap();
    assert_eq!(state.seq, READINGS, "every reading settled as one record");
    let paid = d.balances(&mut chain, provider()).unwrap();
    assert_eq!(paid[ResourceClass::Gpu.index()], U256::from(billed), "paid exactly the meter's total");
    assert!(paid.iter().enumerate().all(|(c, p)| c == ResourceClass::Gpu.index() || p.is_zero()));

    let stream = StreamId { meter: meter_address(&meter_key()).into(), job_id: job };
    let (log, _) = StreamLog::open(&root.path().join("prover").join("streams").join(format!("job-{job}.log")), stream).unwrap();
    assert_eq!(log.tip(), state, "the log and the chain agree on the stream's state");
    let (epochs, totals) = log.settled();
    assert_eq!(totals.get(ResourceClass::Gpu), billed);
    assert_eq!(epochs, log.next_epoch() - 1, "every epoch settled");
    assert!(log.unsettled().next().is_none());
}
