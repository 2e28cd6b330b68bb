//! `zkmeter demo` interrupted every way a user or a machine can: SIGKILL at random
//! moments, Ctrl-C, a second demo on the same data directory, damaged files. In
//! every case nothing strands, forks or bills twice: the next full run finishes
//! every job the interrupted ones opened and closes it, the chain pays exactly
//! what the stream logs settled, and the tokens add up to the consumer's budget.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zkmeter_circuits::{PerClass, StreamId};
use zkmeter_contracts::{DEPLOYMENT_FILE, DEV_ACCOUNTS, Deployment, EmbeddedChain, U256};
use zkmeter_prover::stream_log::StreamLog;

const PROVIDER: zkmeter_contracts::Address = DEV_ACCOUNTS[1];
const CONSUMER: zkmeter_contracts::Address = DEV_ACCOUNTS[2];

/// A short demo: 2 record slots, 2 streams, a few epochs, a fast meter.
const QUICK: &[&str] = &["demo", "--records", "2", "--streams", "2", "--epochs", "2", "--sample-interval-ms", "20"];

/// A demo long enough to be interrupted anywhere: many epochs.
const LONG: &[&str] = &["demo", "--records", "2", "--streams", "2", "--epochs", "12", "--sample-interval-ms", "20"];

fn command(data_dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zkmeter"));
    c.arg("--data-dir").arg(data_dir).args(args).env("RUST_LOG", "warn");
    c
}

/// Starts a demo; its stdout lines arrive on the returned channel.
fn spawn(data_dir: &Path, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = command(data_dir, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("zkmeter runs");
    let (send, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    (child, lines)
}

fn wait_for(lines: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("never printed {needle:?}; printed:\n{}", seen.join("\n"));
}

/// Runs a command to the end: (exit code, stdout, stderr).
fn run(data_dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = command(data_dir, args).output().expect("zkmeter runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn full_run(data_dir: &Path) -> String {
    let (code, out, err) = run(data_dir, QUICK);
    assert_eq!(code, Some(0), "the full run fails:\n{out}\n{err}");
    out
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill only sends a signal, to our own child.
    assert_eq!(unsafe { libc::kill(libc::pid_t::try_from(child.id()).unwrap(), sig) }, 0);
}

/// What the chain and the logs say once everything is done: no job open, the
/// provider paid exactly the totals the stream logs settled, and the consumer's,
/// provider's and escrowed tokens adding up to the consumer's budget.
fn assert_settled_exactly(data_dir: &Path) {
    let chain_dir = data_dir.join("chain");
    let d = Deployment::load(&chain_dir.join(DEPLOYMENT_FILE)).unwrap();
    let mut chain = EmbeddedChain::open_read_only(&chain_dir).unwrap();
    let mut logged = PerClass::default();
    let jobs = d.job_count(&mut chain).unwrap();
    assert!(jobs > 0);
    for id in 1..=jobs {
        let job = d.job(&mut chain, id).unwrap();
        assert!(!job.open, "job {id} is still open: {job:?}");
        let path = data_dir.join("prover/streams").join(format!("job-{id}.v2.log"));
        let Some((log, _)) = StreamLog::open(&path, StreamId { meter: job.meter.into(), job_id: id }).unwrap() else {
            assert_eq!(job.state.seq, 0, "job {id} settled records but has no log");
            continue;
        };
        assert_eq!(log.tip(), job.state, "job {id}: the chain's state is the log's last epoch");
        assert!(log.unsettled().next().is_none(), "job {id}: every epoch settled");
        for (class, v) in log.settled().1.iter() {
            logged.set(class, logged.get(class) + v);
        }
    }
    let paid = d.balances(&mut chain, PROVIDER).unwrap();
    assert_eq!(paid, logged.0.map(U256::from), "the provider is paid exactly what the logs settled (tariff 1:1)");
    let held: Vec<_> = [CONSUMER, PROVIDER, d.settlement].iter().map(|a| d.balances(&mut chain, *a).unwrap()).collect();
    let capacity = [8u128, 128, 10_000_000_000, 12_500_000, 10_000];
    for c in 0..5 {
        let total = held[0][c] + held[1][c] + held[2][c];
        assert_eq!(total, U256::from(capacity[c] * 1_000_000_000), "class {c}: tokens are conserved");
        assert!(held[2][c].is_zero(), "class {c}: nothing stays in escrow");
    }
}

#[test]
fn sigkill_at_random_moments_strands_nothing_and_bills_once() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    // Keys first, so that every kill lands in the life of a demo, not in setup.
    full_run(data_dir);
    let mut rng = ChaCha20Rng::seed_from_u64(20261203);
    let kills = 22;
    for _ in 0..kills {
        let (mut child, _lines) = spawn(data_dir, LONG);
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..3_000)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    // Whatever was open is resumed, finished and closed.
    let out = full_run(data_dir);
    assert!(!out.contains("stay open"), "{out}");
    assert_settled_exactly(data_dir);
}

#[test]
fn ctrl_c_stops_cleanly_a_second_demo_is_refused_and_the_next_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    let (mut first, lines) = spawn(data_dir, LONG);
    wait_for(&lines, "prover daemon: stream logs in");

    // A second demo on the same directory is refused, naming the first.
    let (code, _, err) = run(data_dir, QUICK);
    assert_ne!(code, Some(0));
    assert!(err.contains(&format!("another zkmeter demo (process {})", first.id())), "{err}");
    assert!(!err.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {err:?}");

    // Ctrl-C: the demo stops cleanly and says which jobs stay open.
    wait_for(&lines, "/");
    signal(&first, libc::SIGINT);
    let said = wait_for(&lines, "stay open with their escrow");
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{}", said.join("\n"));
    assert!(said.iter().any(|l| l.contains("stopped.")), "{}", said.join("\n"));

    // `chain status` reads a snapshot and shows them open; piped into a reader
    // that stops early, it ends quietly.
    let (code, status_out, _) = run(data_dir, &["chain", "status"]);
    assert_eq!(code, Some(0));
    assert!(status_out.contains("open"), "{status_out}");
    let mut head = command(data_dir, &["chain", "status"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first_byte = [0u8; 1];
    head.stdout.take().unwrap().read_exact(&mut first_byte).unwrap();
    let piped = head.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&piped.stderr));

    // The next run resumes those jobs instead of opening new ones.
    let out = full_run(data_dir);
    assert!(out.contains("left open by an earlier run: resuming it"), "{out}");
    assert!(!out.contains("escrow gpu"), "no new job was opened: {out}");
    assert_settled_exactly(data_dir);
}

#[test]
fn damaged_files_are_refused_before_anything_is_escrowed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    full_run(data_dir);
    let jobs_before = || {
        let d = Deployment::load(&data_dir.join("chain").join(DEPLOYMENT_FILE)).unwrap();
        let mut chain = EmbeddedChain::open_read_only(&data_dir.join("chain")).unwrap();
        (d.job_count(&mut chain).unwrap(), d.balances(&mut chain, CONSUMER).unwrap())
    };
    let before = jobs_before();

    // A receipt database that is not one: the real cause first, nothing escrowed.
    let receipts = data_dir.join("receipts.db");
    let kept = std::fs::read(&receipts).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(data_dir.join(format!("receipts.db{suffix}")));
    }
    std::fs::write(&receipts, vec![0x5a; 8192]).unwrap();
    let (code, _, err) = run(data_dir, QUICK);
    assert_ne!(code, Some(0));
    let first_line = err.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    assert!(first_line.contains("cannot be read") && first_line.contains("not a database"), "{err}");
    assert!(!err.contains("pool timed out"), "{err}");
    assert_eq!(jobs_before(), before, "nothing was escrowed");
    std::fs::write(&receipts, kept).unwrap();

    // A corrupt verifying key is named as such, and never replaced behind the user's back.
    let vk = data_dir.join("keys/meter-2.vk");
    let good = std::fs::read(&vk).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&vk, &bad).unwrap();
    let (_, status_out, _) = run(data_dir, &["chain", "status"]);
    assert!(status_out.contains("the local key is unusable") && status_out.contains("corrupted"), "{status_out}");
    std::fs::write(&vk, &good).unwrap();
    let pk = data_dir.join("keys/meter-2.pk");
    let good_pk = std::fs::read(&pk).unwrap();
    let mut bad_pk = good_pk.clone();
    let middle = bad_pk.len() / 2;
    bad_pk[middle] ^= 1;
    std::fs::write(&pk, &bad_pk).unwrap();
    let (code, _, err) = run(data_dir, QUICK);
    assert_ne!(code, Some(0));
    assert!(err.contains("corrupted"), "{err}");
    assert_eq!(std::fs::read(&pk).unwrap(), bad_pk, "the damaged key is left for the user, not silently replaced");
    assert_eq!(jobs_before(), before, "nothing was escrowed");
    std::fs::write(&pk, &good_pk).unwrap();

    // A damaged chain state: what to do, without advice that would bill twice.
    let state = data_dir.join("chain/chain.json");
    let good_state = std::fs::read(&state).unwrap();
    std::fs::write(&state, b"{ torn").unwrap();
    let (code, _, err) = run(data_dir, QUICK);
    assert_ne!(code, Some(0));
    assert!(err.contains("restore it from a backup") && err.contains("new data directory"), "{err}");
    std::fs::write(&state, &good_state).unwrap();

    // A missing deployment file over a chain with history is not papered over by a new deployment.
    let deployment = data_dir.join("chain").join(DEPLOYMENT_FILE);
    let good_deployment = std::fs::read(&deployment).unwrap();
    std::fs::remove_file(&deployment).unwrap();
    let (code, _, err) = run(data_dir, QUICK);
    assert_ne!(code, Some(0));
    assert!(err.contains("is missing, but the embedded chain has") && err.contains("restore the deployment file"), "{err}");
    std::fs::write(&deployment, good_deployment).unwrap();

    // `chain status` in an empty directory makes nothing.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(empty.path(), &["chain", "status"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("there is no embedded chain"), "{err}");
    assert!(!empty.path().join("chain/chain.json").exists());

    // Everything restored: the demo runs again, and everything adds up.
    full_run(data_dir);
    assert_settled_exactly(data_dir);
}
