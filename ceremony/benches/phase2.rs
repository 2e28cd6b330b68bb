//! Phase 2 against snarkjs, on the same transcript in the same run: `contribute`
//! (each tool adds a contribution to the same initial transcript) and `verify`
//! (each tool verifies the same transcript, with two contributions: one of each
//! tool's). Each step runs in a process of its own, so the time includes reading
//! and writing the files and the peak memory is that step's alone (the maximum
//! resident set size `wait4` reports). Ratios are snarkjs's time over ours.
//!
//! Run: `cargo bench -p zkmeter-ceremony --bench phase2`
//!
//! - `ZKMETER_BENCH_RECORDS` (default 1024): the meter circuit's record slots;
//! - `ZKMETER_BENCH_PTAU`: a prepared powers-of-tau file big enough for it, e.g. the
//!   published `powersOfTau28_hez_final_20.ptau` for N = 1024 (`zkmeter circuit info`
//!   says which power). Without it, one is made with snarkjs and kept in
//!   `target/tmp`: minutes at 2^15, hours at 2^20;
//! - `ZKMETER_BENCH_RUNS` (default 1): how many times each step runs (each run's
//!   figures are printed, then the best time of each).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use zkmeter_ceremony::{CircomR1cs, Entropy, PtauFile, Silent, contribute, init, verify};
use zkmeter_circuits::CircuitShape;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--step") {
        return step(&args[at + 1..]);
    }
    let Some(snarkjs) = support::snarkjs() else { return };
    let slots: u32 = env_or("ZKMETER_BENCH_RECORDS", 1024);
    let runs: usize = env_or("ZKMETER_BENCH_RUNS", 1);

    let shape = CircuitShape::meter(slots);
    let power = zkmeter_ceremony::ptau_power_needed(shape.domain_size());
    let r1cs = CircomR1cs::from_shape(&shape);
    let ptau = match std::env::var_os("ZKMETER_BENCH_PTAU") {
        Some(path) => PathBuf::from(path),
        None => {
            eprintln!("a 2^{power} powers-of-tau file made with snarkjs, the first time only (ZKMETER_BENCH_PTAU skips this)");
            support::ptau(&snarkjs, power)
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |name: &str| d.join(name);
    r1cs.write(&path("circuit.r1cs")).unwrap();
    init(&r1cs, "the benchmark circuit", &PtauFile::open(&ptau).unwrap(), &path("c0.zkey"), &Silent).unwrap();
    println!(
        "meter circuit N = {slots}: {} constraints, domain 2^{}, ptau {} ({} MB); load average {}",
        shape.num_constraints,
        shape.domain_size().trailing_zeros(),
        ptau.display(),
        std::fs::metadata(&ptau).unwrap().len() / 1_000_000,
        load_average()
    );

    let me = std::env::current_exe().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let (c0, theirs, ours, both) = (path("c0.zkey"), path("snarkjs.zkey"), path("zkmeter.zkey"), path("both.zkey"));
    let mut best = [[Measured::NONE; 2]; 2];
    for run in 1..=runs {
        let contribute_theirs = measure(Command::new(&snarkjs).args(["zkey", "contribute", &s(&c0), &s(&theirs), "--name=snarkjs", "-e=bench"]));
        let contribute_ours = measure(Command::new(&me).args(["--step", "contribute", &s(&c0), &s(&ours)]));
        // The transcript both verify: snarkjs's contribution, then ours.
        measure(Command::new(&me).args(["--step", "contribute", &s(&theirs), &s(&both)]));
        let verify_theirs =
            measure(Command::new(&snarkjs).args(["zkey", "verify", &s(&path("circuit.r1cs")), &s(&ptau), &s(&both)]));
        let verify_ours = measure(Command::new(&me).args(["--step", "verify", &s(&both), &s(&path("circuit.r1cs")), &s(&ptau)]));
        println!("run {run}:");
        for (what, pair) in [("contribute", [contribute_theirs, contribute_ours]), ("verify", [verify_theirs, verify_ours])] {
            report(what, pair);
            let i = usize::from(what == "verify");
            for (b, m) in best[i].iter_mut().zip(pair) {
                if m.time < b.time {
                    *b = m;
                }
            }
        }
    }
    if runs > 1 {
        println!("best of {runs}:");
        report("contribute", best[0]);
        report("verify", best[1]);
    }
    println!("load average after: {}", load_average());
}

/// One step of ours, in this process (the parent measures it).
fn step(args: &[String]) {
    let p = |i: usize| Path::new(&args[i]);
    match args[0].as_str() {
        "contribute" => {
            contribute(p(1), p(2), Some("zkmeter"), &Entropy { text: "bench" }, &Silent).unwrap();
        }
        "verify" => {
            let r1cs = CircomR1cs::read(p(2)).unwrap();
            let ptau = PtauFile::open(p(3)).unwrap();
            verify(p(1), &r1cs, "the benchmark circuit", &ptau, &Silent).unwrap();
        }
        other => panic!("unknown step {other}"),
    }
}

#[derive(Clone, Copy)]
struct Measured {
    time: Duration,
    peak_bytes: u64,
}

impl Measured {
    const NONE: Measured = Measured { time: Duration::MAX, peak_bytes: 0 };
}

/// Runs a command to its end, with its wall time and peak resident memory.
fn measure(command: &mut Command) -> Measured {
    let started = Instant::now();
    // Output stays on the terminal: a failing step says why there.
    let child = command.spawn().expect("the step starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain out-parameters; `child` is never waited on through std, so the
    // pid is reaped exactly once, here.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let time = started.elapsed();
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{command:?} failed (status {status})");
    // Linux reports ru_maxrss in KiB.
    Measured { time, peak_bytes: usage.ru_maxrss as u64 * 1024 }
}

fn report(what: &str, [theirs, ours]: [Measured; 2]) {
    println!(
        "  {what:<10}  snarkjs {:>8.2} s, peak {:>6} MiB   zkmeter {:>8.2} s, peak {:>6} MiB   snarkjs / zkmeter {:.2}×",
        theirs.time.as_secs_f64(),
        theirs.peak_bytes >> 20,
        ours.time.as_secs_f64(),
        ours.peak_bytes >> 20,
        theirs.time.as_secs_f64() / ours.time.as_secs_f64()
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "?".into(), |s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
}
