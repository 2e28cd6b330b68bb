//! The engine against the anchor, stock `ark_groth16::Groth16::<Bn254>::prove`, on
//! the same meter circuit, key and witness, in the same run; then MSM and NTT sizes
//! on the CPU and, when there is one, the GPU.
//!
//! The machine this runs on is usually shared, so the provers are measured in pairs:
//! each round proves once with each, in alternating order (engine first in even
//! rounds, stock first in odd ones), and the ratio reported is the median of the
//! per-round ratios, so a load that comes and goes weighs on both alike.
//!
//! ```text
//! cargo bench -p zkmeter-engine --bench prove                      # N = 64, 256; MSM/NTT 2^16, 2^18
//! ZKMETER_BENCH_SLOTS=1024 ZKMETER_BENCH_ROUNDS=3 cargo bench -p zkmeter-engine --bench prove
//! ZKMETER_BENCH_MSM_LOGS=16,18,20,22 cargo bench -p zkmeter-engine --features cuda --bench prove
//! ```
//! `ZKMETER_BENCH_SLOTS=` (empty) or `ZKMETER_BENCH_MSM_LOGS=` skips that part.
//!
//! With the `cuda` feature and a GPU, every round also proves on the GPU backend
//! (same key, circuit and verifier), after one untimed warm-up proof, and the
//! table adds the GPU's median, the per-round CPU/GPU ratio against the engine's
//! CPU proof of the same round, and the time to upload the key's bases.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective};
use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::UniformRand;
use ark_groth16::Groth16;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_snark::SNARK;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::time::{Duration, Instant};
use zkmeter_circuits::{
    CircuitShape, MeterCircuit, MeterStatement, MeterWitness, PerClass, StreamId, UsageRecord,
    build_epoch, keys,
};
use zkmeter_engine::{CpuBackend, Ntt, Prover, ProverBackend};

fn list(var: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(var) {
        Ok(s) => s
            .split(',')
            .filter(|n| !n.trim().is_empty())
            .map(|n| {
                n.trim().parse().unwrap_or_else(|_| panic!("{var} is a comma-separated list of numbers, not {s:?}"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// A full epoch: N records, each billing all five classes (the same as benches/prove.rs).
fn epoch(slots: usize) -> (MeterStatement, MeterWitness) {
    let stream = StreamId { meter: [0xbe; 20], job_id: 1 };
    let opened = 1_700_000_000_000;
    let records: Vec<UsageRecord> = (0..slots as u64)
        .map(|i| UsageRecord {
            seq: i + 1,
            start_ms: opened + i * 5_000,
            end_ms: opened + i * 5_000 + 4_000,
            usage: PerClass([1_000 + i, 2_000 + i, 3_000_000 + i, 40_000 + i, 5_000 + i]),
        })
        .collect();
    let caps = PerClass([8, 128, 1 << 40, 1 << 24, 10_000]);
    build_epoch(stream, stream.genesis(opened), &records, caps, Fr::from(3u64), slots).expect("valid records")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn proofs(rng: &mut ChaCha20Rng) {
    let slots = list("ZKMETER_BENCH_SLOTS", &[64, 256]);
    let rounds = list("ZKMETER_BENCH_ROUNDS", &[5])[0].max(1);
    let mut rows = Vec::new();
    for n in slots {
        let shape = CircuitShape::meter(n as u32);
        eprintln!("N = {n}: {} constraints; setting up keys (load {})…", shape.num_constraints, load_average());
        let pk = keys::setup(&shape, rng).expect("setup");
        let start = Instant::now();
        let prover = Prover::meter_cpu(pk, &shape).expect("the key fits the circuit");
        let load_time = start.elapsed();
        let (statement, witness) = epoch(n);
        let circuit = MeterCircuit::assigned(statement.instance(), witness);
        let pvk = ark_groth16::prepare_verifying_key(prover.verifying_key());
        let verifies = |proof: &ark_groth16::Proof<Bn254>| {
            Groth16::<Bn254>::verify_proof(&pvk, proof, &statement.public_inputs()).unwrap()
        };
        let gpu = gpu_prover(prover.proving_key(), &shape, &circuit, rng);
        let (mut ours, mut stock, mut ratios, mut phases) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut on_gpu, mut gpu_ratios) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let run_ours = |rng: &mut ChaCha20Rng| {
                let t = Instant::now();
                let (proof, timings) = prover.prove_with_timings(circuit.clone(), rng).expect("proof");
                (secs(t.elapsed()), proof, timings)
            };
            let run_stock = |rng: &mut ChaCha20Rng| {
                let t = Instant::now();
                let proof = Groth16::<Bn254>::prove(prover.proving_key(), circuit.clone(), rng).expect("proof");
                (secs(t.elapsed()), proof)
            };
            let ((o, proof, timings), (s, stock_proof)) = if round % 2 == 0 {
                let o = run_ours(rng);
                (o, run_stock(rng))
            } else {
                let s = run_stock(rng);
                (run_ours(rng), s)
            };
            assert!(verifies(&proof), "engine proof verifies");
            assert!(verifies(&stock_proof), "stock proof verifies");
            eprintln!("  round {round}: engine {:.3} s, stock {:.3} s, {:.2}× (load {})", o, s, s / o, load_average());
            if let Some((gpu, _)) = &gpu {
                let (g, gpu_proof) = time(|| gpu.prove(circuit.clone(), rng).expect("GPU proof"));
                assert!(verifies(&gpu_proof), "GPU proof verifies");
                eprintln!("           GPU {g:.4} s, CPU/GPU {:.1}×", o / g);
                on_gpu.push(g);
                gpu_ratios.push(o / g);
            }
            ours.push(o);
            stock.push(s);
            ratios.push(s / o);
            phases.push(timings);
        }
        let phase = |f: fn(&zkmeter_engine::Timings) -> Duration| median(phases.iter().map(|t| secs(f(t))).collect());
        rows.push((
            n,
            shape.num_constraints,
            median(ours),
            median(stock),
            median(ratios),
            [phase(|t| t.witness), phase(|t| t.qap), phase(|t| t.msm)],
            load_time,
            gpu.map(|(_, upload)| (median(on_gpu), median(gpu_ratios), upload)),
        ));
    }
    if rows.is_empty() {
        return;
    }
    println!("\nfull proofs, medians over {rounds} alternating rounds (load now {}):", load_average());
    println!(
        "{:>6} {:>12} {:>12} {:>12} {:>14} {:>34} {:>10} {:>10} {:>9} {:>10}",
        "N",
        "constraints",
        "engine (s)",
        "stock (s)",
        "stock/engine",
        "engine witness / qap / msm (s)",
        "load (s)",
        "gpu (s)",
        "cpu/gpu",
        "upload (s)"
    );
    for (n, constraints, ours, stock, ratio, [w, q, m], load, gpu) in rows {
        let [g, r, u] = match gpu {
            Some((g, r, u)) => [format!("{g:.4}"), format!("{r:.1}×"), format!("{:.2}", secs(u))],
            None => Default::default(),
        };
        println!(
            "{n:>6} {constraints:>12} {ours:>12.3} {stock:>12.3} {ratio:>13.2}× {:>34} {:>10.2} {g:>10} {r:>9} {u:>10}",
            format!("{w:.3} / {q:.3} / {m:.3}"),
            secs(load)
        );
    }
}

/// The same key on the GPU, with the time its upload took, after one untimed
/// proof (the first pays for CUDA's start-up); `None`, saying why, without one.
#[cfg(feature = "cuda")]
fn gpu_prover(
    pk: &ark_groth16::ProvingKey<Bn254>,
    shape: &CircuitShape,
    circuit: &MeterCircuit,
    rng: &mut ChaCha20Rng,
) -> Option<(Prover<zkmeter_engine::cuda::CudaBackend>, Duration)> {
    let gpu = match zkmeter_engine::cuda::CudaBackend::new() {
        Ok(gpu) => gpu,
        Err(why) => {
            eprintln!("  GPU proofs skipped: {why}");
            return None;
        }
    };
    let start = Instant::now();
    let prover = Prover::new(gpu, pk.clone(), shape.into()).expect("the key fits the circuit");
    let upload = start.elapsed();
    prover.prove_verified(circuit.clone(), rng).expect("a first GPU proof that verifies");
    Some((prover, upload))
}

/// Without the `cuda` feature there are no GPU rows.
#[cfg(not(feature = "cuda"))]
fn gpu_prover(
    _: &ark_groth16::ProvingKey<Bn254>,
    _: &CircuitShape,
    _: &MeterCircuit,
    _: &mut ChaCha20Rng,
) -> Option<(Prover<CpuBackend>, Duration)> {
    None
}

/// `2^log` distinct bases without `2^log` scalar multiplications: a random point's
/// consecutive multiples.
fn bases(log: u32, rng: &mut ChaCha20Rng) -> Vec<G1Affine> {
    let step = G1Projective::generator() * Fr::rand(rng);
    let mut acc = step;
    let points: Vec<G1Projective> = (0..1usize << log)
        .map(|_| {
            acc += step;
            acc
        })
        .collect();
    G1Projective::normalize_batch(&points)
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let out = f();
    (secs(t.elapsed()), out)
}

fn kernels(rng: &mut ChaCha20Rng) {
    let logs = list("ZKMETER_BENCH_MSM_LOGS", &[16, 18]);
    if logs.is_empty() {
        return;
    }
    #[cfg(feature = "cuda")]
    let gpu = match zkmeter_engine::cuda::CudaBackend::new() {
        Ok(gpu) => Some(gpu),
        Err(why) => {
            eprintln!("GPU rows skipped: {why}");
            None
        }
    };
    #[cfg(not(feature = "cuda"))]
    eprintln!("GPU rows skipped: built without the cuda feature");

    println!("\nG1 MSM (random full-size scalars) and NTT, seconds (load now {}):", load_average());
    println!(
        "{:>4} {:>12} {:>12} {:>10} {:>12} {:>12} {:>10} {:>10}",
        "log", "ark msm", "cpu msm", "ark/cpu", "gpu msm", "ark ntt", "gpu ntt", "gpu coset"
    );
    for log in logs {
        let bases = bases(log as u32, rng);
        let scalars: Vec<Fr> = (0..bases.len()).map(|_| Fr::rand(rng)).collect();
        let prepared = CpuBackend.load_g1(&bases).expect("cpu");
        let (ark, reference) = time(|| G1Projective::msm(&bases, &scalars).unwrap());
        let (cpu, ours) = time(|| CpuBackend.msm_g1(&prepared, &scalars).unwrap());
        assert_eq!(ours, reference, "CPU MSM equals arkworks at 2^{log}");
        let domain = Radix2EvaluationDomain::<Fr>::new(1 << log).expect("domain");
        let mut values = scalars.clone();
        let (ntt, _) = time(|| CpuBackend.ntt(&domain, &mut values, Ntt::Forward).unwrap());
        // Filled in only with the cuda feature and a GPU.
        #[allow(unused_mut)]
        let mut gpu_cells = ["".to_string(), "".to_string(), "".to_string()];
        #[cfg(feature = "cuda")]
        if let Some(gpu) = &gpu {
            let loaded = gpu.load_g1(&bases).expect("upload bases");
            let warm_up = gpu.msm_g1(&loaded, &scalars).expect("first GPU MSM");
            assert_eq!(warm_up, reference, "first GPU MSM equals arkworks at 2^{log}");
            let (t, result) = time(|| gpu.msm_g1(&loaded, &scalars).unwrap());
            assert_eq!(result, reference, "GPU MSM equals arkworks at 2^{log}");
            let mut on_gpu = scalars.clone();
            let (n, _) = time(|| gpu.ntt(&domain, &mut on_gpu, Ntt::Forward).unwrap());
            assert_eq!(on_gpu, values, "GPU NTT equals ark-poly at 2^{log}");
            let (c, _) = time(|| gpu.ntt(&domain, &mut on_gpu, Ntt::CosetForward).unwrap());
            gpu_cells = [format!("{t:.4}"), format!("{n:.4}"), format!("{c:.4}")];
        }
        println!(
            "{log:>4} {ark:>12.4} {cpu:>12.4} {:>9.2}× {:>12} {ntt:>12.4} {:>10} {:>10}",
            ark / cpu,
            gpu_cells[0],
            gpu_cells[1],
            gpu_cells[2]
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes its settings from the environment.
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    eprintln!("{} rayon threads, load average {}", rayon::current_num_threads(), load_average());
    proofs(&mut rng);
    kernels(&mut rng);
}
