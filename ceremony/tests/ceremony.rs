//! A whole phase-2 ceremony at a small size, with snarkjs as the second
//! implementation of every step: the circuit export, the initial transcript (byte
//! for byte), contributions of both tools interleaved in one transcript, a beacon,
//! verification by both, and keys that prove with zkmeter-engine and verify in
//! arkworks and snarkjs.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ark_bn254::{Bn254, Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::{Groth16, prepare_verifying_key};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkmeter_ceremony::bin_file::{BinFile, BinWriter};
use zkmeter_ceremony::phase2_contribute::Contributed;
use zkmeter_ceremony::zkey_file::{ContributionKind, section_name, sections};
use zkmeter_ceremony::{
    CeremonyError, CircomR1cs, ContributionFault, Entropy, PtauFile, Silent, ZkeyFile, beacon, contribute, finalize,
    init, verify,
};
use zkmeter_circuits::{MeterCircuit, PerClass, StreamId, UsageRecord, build_epoch, snarkjs as snarkjs_json};
use zkmeter_engine::{CpuBackend, Prover};

use support::*;

#[test]
fn the_r1cs_export_reads_back_and_snarkjs_reads_it() {
    let (shape, r1cs) = meter();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meter-1.r1cs");
    r1cs.write(&path).unwrap();
    assert_eq!(&CircomR1cs::read(&path).unwrap(), r1cs);
    // The matrices read back are ours, term for term.
    for (i, constraint) in r1cs.constraints.iter().enumerate() {
        for (k, lc) in constraint.lcs.iter().enumerate() {
            let ours: Vec<(u32, Fr)> = shape.matrices[k][i].iter().map(|&(c, w)| (w as u32, c)).collect();
            assert_eq!(lc, &ours, "constraint {i}, matrix {k}");
        }
    }
    let Some(bin) = snarkjs() else { return };
    let info = run_snarkjs(&bin, dir.path(), &["r1cs", "info", "meter-1.r1cs"]);
    assert!(info.contains(&format!("# of Constraints: {}", shape.num_constraints)), "{info}");
    assert!(info.contains("# of Public Inputs: 5"), "{info}");
    assert!(info.contains(&format!("# of Wires: {}", shape.num_instance_variables + shape.num_witness_variables)), "{info}");
    // snarkjs's own reading of the matrices, as JSON, equals ours.
    run_snarkjs(&bin, dir.path(), &["r1cs", "export", "json", "meter-1.r1cs", "meter-1.json"]);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("meter-1.json")).unwrap()).unwrap();
    let constraints = json["constraints"].as_array().unwrap();
    assert_eq!(constraints.len(), r1cs.constraints.len());
    for (theirs, ours) in constraints.iter().zip(&r1cs.constraints) {
        for (k, lc) in ours.lcs.iter().enumerate() {
            let map = theirs[k].as_object().unwrap();
            assert_eq!(map.len(), lc.len());
            for (wire, coefficient) in lc {
                assert_eq!(map[&wire.to_string()].as_str().unwrap(), coefficient.to_string());
            }
        }
    }
}

#[test]
fn the_initial_transcript_is_the_one_snarkjs_zkey_new_writes() {
    let Some(bin) = snarkjs() else { return };
    let ptau_path = ptau(&bin, 11);
    let ptau = PtauFile::open(&ptau_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, (_, r1cs)) in [("meter", meter()), ("workload", workload())] {
        let r1cs_path = dir.path().join(format!("{name}.r1cs"));
        r1cs.write(&r1cs_path).unwrap();
        let ours = dir.path().join(format!("{name}-ours.zkey"));
        init(r1cs, name, &ptau, &ours, &Silent).unwrap();
        let theirs = dir.path().join(format!("{name}-theirs.zkey"));
        run_snarkjs(&bin, dir.path(), &["zkey", "new", r1cs_path.to_str().unwrap(), ptau_path.to_str().unwrap(), theirs.to_str().unwrap()]);
        let (a, b) = (std::fs::read(&ours).unwrap(), std::fs::read(&theirs).unwrap());
        assert_eq!(a.len(), b.len(), "{name}: sizes");
        assert!(a == b, "{name}: zkmeter's initial transcript differs from snarkjs's at byte {}", a.iter().zip(&b).position(|(x, y)| x != y).unwrap());
    }
}

#[test]
fn snarkjs_hashes_one_more_h_point_from_two_chunks_on_and_so_does_init() {
    // Where snarkjs's circuit hash takes n H points instead of n − 1.
    use zkmeter_ceremony::phase2_init::{H_HASH_CHUNK, h_hash_points};
    use zkmeter_ceremony::ptau_power_needed;
    for (power, hashed, needed) in [(11, (1 << 11) - 1, 11), (14, (1 << 14) - 1, 14), (15, 1 << 15, 16), (19, 1 << 19, 20)] {
        assert_eq!(h_hash_points(1 << power, H_HASH_CHUNK), hashed, "2^{power}");
        assert_eq!(ptau_power_needed(1 << power), needed, "2^{power}");
    }
    // At the tests' sizes the hash is one chunk; snarkjs with its chunk cut to
    // 2^6 (a copy of its build, patched) hashes like it does from 2^15 on, and
    // init with the same chunk must write the same bytes.
    let Some(bin) = snarkjs() else { return };
    let ptau_path = ptau(&bin, 11);
    let ptau = PtauFile::open(&ptau_path).unwrap();
    // A circuit below the ptau's power, so that the point past n − 1 is a real
    // one: 300 squarings x(i+1) = x(i)·x(i) + 3·x(0)·…, one public input.
    use zkmeter_ceremony::r1cs_file::Constraint;
    let constraints = (0..300u32)
        .map(|i| Constraint {
            lcs: [vec![(i + 2, Fr::from(1u64))], vec![(i + 2, Fr::from(1u64)), (1, Fr::from(3u64))], vec![(i + 3, Fr::from(u64::from(i) + 5))]],
        })
        .collect();
    let small = CircomR1cs { n_wires: 303, n_outputs: 0, n_public_inputs: 1, n_private_inputs: 1, constraints };
    let r1cs = &small;
    let n = r1cs.domain_size();
    assert!(n < 1 << 11 && h_hash_points(n, 64) == n, "the domain (2^{}) spans several chunks of 64", n.trailing_zeros());
    let root = repo_root();
    let build = std::fs::read_to_string(root.join("node_modules/snarkjs/build/main.cjs")).unwrap();
    let original = "async function hashHPoints() {\n        const CHUNK_SIZE = 1<<14;";
    assert_eq!(build.matches(original).count(), 1, "snarkjs's hashHPoints is where this test expects it");
    // Beside the repository's node_modules, so the copy's requires resolve there.
    let patched_dir = tempfile::tempdir_in(root.join("node_modules")).unwrap();
    let patched = patched_dir.path().join("snarkjs-h-chunk-64.cjs");
    std::fs::write(&patched, build.replace(original, "async function hashHPoints() {\n        const CHUNK_SIZE = 1<<6;")).unwrap();
    let r1cs_path = patched_dir.path().join("workload.r1cs");
    r1cs.write(&r1cs_path).unwrap();
    let theirs = patched_dir.path().join("theirs.zkey");
    let script = format!(
        "require({:?}).zKey.newZKey({:?}, {:?}, {:?}).then(() => process.exit(0), e => {{ console.error(e); process.exit(1) }})",
        patched.to_str().unwrap(),
        r1cs_path.to_str().unwrap(),
        ptau_path.to_str().unwrap(),
        theirs.to_str().unwrap()
    );
    let out = std::process::Command::new("node").arg("-e").arg(&script).output().expect("node runs");
    assert!(out.status.success(), "patched snarkjs zkey new: {}", String::from_utf8_lossy(&out.stderr));
    let ours = patched_dir.path().join("ours.zkey");
    zkmeter_ceremony::phase2_init::init_hashing_h_in_chunks(r1cs, "workload", &ptau, &ours, &Silent, 64).unwrap();
    let (a, b) = (std::fs::read(&ours).unwrap(), std::fs::read(&theirs).unwrap());
    assert!(a == b, "the initial transcripts differ at byte {:?}", a.iter().zip(&b).position(|(x, y)| x != y));
    // And the usual init (one chunk at this size) hashes differently: the test reached the case.
    let usual = patched_dir.path().join("usual.zkey");
    init(r1cs, "workload", &ptau, &usual, &Silent).unwrap();
    assert!(std::fs::read(&usual).unwrap() != a);
}

/// The meter circuit's ceremony, made once: zkmeter's initial transcript, then
/// snarkjs, zkmeter, snarkjs contributions and a zkmeter beacon, `transcripts[k]`
/// holding k contributions.
struct MeterCeremony {
    dir: tempfile::TempDir,
    snarkjs: PathBuf,
    ptau: PathBuf,
    r1cs: PathBuf,
    transcripts: Vec<PathBuf>,
    /// What our contribute and beacon returned (for transcripts 2 and 4).
    ours: Vec<Contributed>,
}

fn ceremony() -> Option<&'static MeterCeremony> {
    static CEREMONY: OnceLock<Option<MeterCeremony>> = OnceLock::new();
    CEREMONY
        .get_or_init(|| {
            let bin = snarkjs()?;
            let ptau_path = ptau(&bin, 11);
            let ptau = PtauFile::open(&ptau_path).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let r1cs = d.join("meter-1.r1cs");
            meter().1.write(&r1cs).unwrap();
            let t: Vec<PathBuf> = (0..5).map(|k| d.join(format!("c{k}.zkey"))).collect();
            let arg = |p: &Path| p.to_str().unwrap().to_owned();
            init(&meter().1, "the meter circuit", &ptau, &t[0], &Silent).unwrap();
            run_snarkjs(&bin, d, &["zkey", "contribute", &arg(&t[0]), &arg(&t[1]), "--name=alice (snarkjs)", "-e=alice's entropy"]);
            let second = contribute(&t[1], &t[2], Some("bob (zkmeter)"), &Entropy { text: "bob typed this" }, &Silent).unwrap();
            run_snarkjs(&bin, d, &["zkey", "contribute", &arg(&t[2]), &arg(&t[3]), "--name=carol (snarkjs)", "-e=carol"]);
            let beacon_value = hex::decode("a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90").unwrap();
            let last = beacon(&t[3], &t[4], Some("final beacon"), &beacon_value, 10, &Silent).unwrap();
            Some(MeterCeremony { dir, snarkjs: bin, ptau: ptau_path, r1cs, transcripts: t, ours: vec![second, last] })
        })
        .as_ref()
}

#[test]
fn contributions_of_both_tools_interleave_and_each_tool_verifies_the_others() {
    let Some(c) = ceremony() else { return };
    let ptau = PtauFile::open(&c.ptau).unwrap();
    let (_, r1cs) = meter();
    // Ours accepts every prefix, snarkjs's contributions included.
    for (k, transcript) in c.transcripts.iter().enumerate() {
        let verified = verify(transcript, r1cs, "the meter circuit", &ptau, &Silent).unwrap();
        assert_eq!(verified.contributions.len(), k);
    }
    let verified = verify(&c.transcripts[4], r1cs, "the meter circuit", &ptau, &Silent).unwrap();
    let names: Vec<_> = verified.contributions.iter().map(|(c, _)| c.name.clone().unwrap()).collect();
    assert_eq!(names, ["alice (snarkjs)", "bob (zkmeter)", "carol (snarkjs)", "final beacon"]);
    assert_eq!(verified.contributions[1].1, c.ours[0].hash, "the hash bob published is the one in the transcript");
    assert_eq!(verified.contributions[3].1, c.ours[1].hash);
    assert!(matches!(verified.contributions[3].0.kind, ContributionKind::Beacon { iterations_exp: 10, .. }));
    // snarkjs accepts transcripts whose last contribution is ours, and the beacon.
    for k in [2, 4] {
        let (ok, out) = snarkjs_accepts(&c.snarkjs, &c.r1cs, &c.ptau, &c.transcripts[k]);
        assert!(ok, "snarkjs refused the transcript with {k} contributions:\n{out}");
        assert!(out.contains("bob (zkmeter)"), "{out}");
    }
    // A snarkjs beacon after ours verifies here too.
    let theirs = c.dir.path().join("c5-snarkjs-beacon.zkey");
    let beacon_hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    run_snarkjs(&c.snarkjs, c.dir.path(), &["zkey", "beacon", c.transcripts[4].to_str().unwrap(), theirs.to_str().unwrap(), beacon_hex, "10", "-n=snarkjs beacon"]);
    let verified = verify(&theirs, r1cs, "the meter circuit", &ptau, &Silent).unwrap();
    assert!(matches!(&verified.contributions[4].0.kind, ContributionKind::Beacon { hash, .. } if hex::encode(hash) == beacon_hex));
}

#[test]
fn the_final_keys_prove_with_the_engine_and_verify_in_arkworks_and_snarkjs() {
    let Some(c) = ceremony() else { return };
    let ptau = PtauFile::open(&c.ptau).unwrap();
    let (shape, r1cs) = meter();
    let keys = finalize(&c.transcripts[4], r1cs, "the meter circuit", &ptau, &Silent).unwrap();
    let file_hash = blake2b_of(&c.transcripts[4]);
    assert_eq!(keys.origin.transcript_hex().unwrap(), hex::encode(file_hash));

    // The verifying key is the one snarkjs exports from the same transcript.
    let exported = c.dir.path().join("verification_key.json");
    run_snarkjs(&c.snarkjs, c.dir.path(), &["zkey", "export", "verificationkey", c.transcripts[4].to_str().unwrap(), exported.to_str().unwrap()]);
    let theirs: serde_json::Value = serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    let ours = serde_json::to_value(snarkjs_json::verification_key_json(&keys.pk.vk)).unwrap();
    assert_eq!(ours, theirs);

    // The engine proves with the ceremony key (circom reduction), checked by arkworks and snarkjs.
    let prover = Prover::new(CpuBackend, keys.pk.clone(), shape.into()).unwrap();
    assert_eq!(prover.reduction(), zkmeter_circuits::qap_reduction::QapReduction::Circom);
    let stream = StreamId { meter: [0x5a; 20], job_id: 9 };
    let records = [UsageRecord { seq: 1, start_ms: 1_000, end_ms: 4_000, usage: PerClass([20_000, 0, 0, 4_096, 7_000]) }];
    let caps = PerClass([8, 64, 1 << 40, 1 << 24, 10_000]);
    let (statement, witness) = build_epoch(stream, stream.genesis(1_000), &records, caps, Fr::from(17u64), 1).unwrap();
    let public = statement.public_inputs();
    let proof = prover
        .prove_verified(MeterCircuit::assigned(statement.instance(), witness), &mut ChaCha20Rng::seed_from_u64(1))
        .unwrap();
    assert!(Groth16::<Bn254>::verify_proof(&prepare_verifying_key(&keys.pk.vk), &proof, &public).unwrap());
    let out = tempfile::tempdir().unwrap();
    snarkjs_json::write_snarkjs_files(out.path(), &keys.pk.vk, &proof, &public).unwrap();
    let said = run_snarkjs(&c.snarkjs, out.path(), &["groth16", "verify", "verification_key.json", "public.json", "proof.json"]);
    assert!(said.contains("OK!"), "{said}");
}

fn blake2b_of(path: &Path) -> [u8; 64] {
    use blake2::{Blake2b512, Digest};
    Blake2b512::digest(std::fs::read(path).unwrap()).into()
}

/// Copies a transcript with some sections replaced (written in id order).
fn rewrite(from: &Path, to: &Path, replace: &[(u32, Vec<u8>)]) {
    let file = BinFile::open(from, b"zkey", 1, section_name).unwrap();
    let mut out = BinWriter::create(to, b"zkey", 1, 10).unwrap();
    for id in 1..=10 {
        match replace.iter().find(|(r, _)| *r == id) {
            Some((_, bytes)) => out.section(id, bytes).unwrap(),
            None => file.copy_section(id, &mut out).unwrap(),
        }
    }
    out.finish().unwrap();
}

fn verify_meter(path: &Path) -> CeremonyError {
    let c = ceremony().unwrap();
    let ptau = PtauFile::open(&c.ptau).unwrap();
    verify(path, &meter().1, "the meter circuit", &ptau, &Silent).unwrap_err()
}

/// Swaps points `i` and `j` of a section of G1 points.
fn swapped(path: &Path, id: u32, i: usize, j: usize) -> Vec<u8> {
    let mut bytes = BinFile::open(path, b"zkey", 1, section_name).unwrap().read_section(id).unwrap();
    let (a, b) = (bytes[i * 64..(i + 1) * 64].to_vec(), bytes[j * 64..(j + 1) * 64].to_vec());
    bytes[i * 64..(i + 1) * 64].copy_from_slice(&b);
    bytes[j * 64..(j + 1) * 64].copy_from_slice(&a);
    bytes
}

#[test]
fn delta_changed_without_its_l_and_h_update_is_refused_naming_the_contribution() {
    let Some(c) = ceremony() else { return };
    // Contribution #2 (ours) with the L and H of the transcript before it.
    let before = BinFile::open(&c.transcripts[1], b"zkey", 1, section_name).unwrap();
    let forged = c.dir.path().join("forged-lh.zkey");
    rewrite(
        &c.transcripts[2],
        &forged,
        &[(sections::L, before.read_section(sections::L).unwrap()), (sections::H, before.read_section(sections::H).unwrap())],
    );
    let err = verify_meter(&forged);
    assert!(matches!(&err, CeremonyError::QueryMismatch { section: "L query", after, .. } if after == "#2 \"bob (zkmeter)\""), "{err}");
    assert!(err.to_string().contains("contribution #2"), "{err}");
    // Only H left behind.
    rewrite(&c.transcripts[2], &forged, &[(sections::H, before.read_section(sections::H).unwrap())]);
    assert!(matches!(verify_meter(&forged), CeremonyError::QueryMismatch { section: "H query", .. }));
    let (ok, _) = snarkjs_accepts(&c.snarkjs, &c.r1cs, &c.ptau, &forged);
    assert!(!ok, "snarkjs refuses it too");
}

#[test]
fn a_bad_proof_of_knowledge_a_broken_delta_chain_and_reordered_contributions_are_refused() {
    let Some(c) = ceremony() else { return };
    let zkey = ZkeyFile::open(&c.transcripts[3]).unwrap();
    let forged = c.dir.path().join("forged-mpc.zkey");
    let refused = |mpc: &zkmeter_ceremony::zkey_file::MpcParams| {
        rewrite(&c.transcripts[3], &forged, &[(sections::CONTRIBUTIONS, mpc.encode())]);
        verify_meter(&forged)
    };
    // Contribution #2's x·g2_sp doubled: its proof of knowledge fails.
    let mut mpc = zkey.mpc.clone();
    mpc.contributions[1].g2_spx = (mpc.contributions[1].g2_spx * Fr::from(2u64)).into_affine();
    let err = refused(&mpc);
    assert!(matches!(&err, CeremonyError::Contribution { index: 1, fault: ContributionFault::ProofOfKnowledge, .. }), "{err}");
    assert!(err.to_string().contains("contribution #2 \"bob (zkmeter)\""), "{err}");
    // Contribution #2's δ after it moved: the chain breaks there.
    let mut mpc = zkey.mpc.clone();
    mpc.contributions[1].delta_after = (mpc.contributions[1].delta_after + G1Affine::generator()).into_affine();
    assert!(matches!(refused(&mpc), CeremonyError::Contribution { index: 1, fault: ContributionFault::DeltaChain, .. }));
    // Contributions #1 and #2 swapped: the transcript hashes no longer chain.
    let mut mpc = zkey.mpc.clone();
    mpc.contributions.swap(0, 1);
    assert!(matches!(refused(&mpc), CeremonyError::Contribution { index: 0, fault: ContributionFault::TranscriptHash, .. }));
    // s·G1 and s·x·G1 swapped in contribution #3.
    let mut mpc = zkey.mpc.clone();
    let third = &mut mpc.contributions[2];
    std::mem::swap(&mut third.g1_s, &mut third.g1_sx);
    assert!(matches!(refused(&mpc), CeremonyError::Contribution { index: 2, fault: ContributionFault::TranscriptHash, .. }));
    // Nobody contributes on top of a broken transcript.
    let err = contribute(&forged, &c.dir.path().join("next.zkey"), None, &Entropy { text: "" }, &Silent).unwrap_err();
    assert!(matches!(err, CeremonyError::Contribution { index: 2, .. }), "{err}");
}

#[test]
fn swapped_points_are_refused() {
    let Some(c) = ceremony() else { return };
    let forged = c.dir.path().join("forged-swap.zkey");
    rewrite(&c.transcripts[2], &forged, &[(sections::H, swapped(&c.transcripts[2], sections::H, 3, 70))]);
    let err = verify_meter(&forged);
    assert!(matches!(&err, CeremonyError::QueryMismatch { section: "H query", .. }), "{err}");
    rewrite(&c.transcripts[2], &forged, &[(sections::L, swapped(&c.transcripts[2], sections::L, 0, 1))]);
    assert!(matches!(verify_meter(&forged), CeremonyError::QueryMismatch { section: "L query", .. }));
    rewrite(&c.transcripts[2], &forged, &[(sections::A, swapped(&c.transcripts[2], sections::A, 10, 11))]);
    let err = verify_meter(&forged);
    assert!(matches!(&err, CeremonyError::InitialSectionAltered { section: "A query", .. }), "{err}");
    rewrite(&c.transcripts[2], &forged, &[(sections::IC, swapped(&c.transcripts[2], sections::IC, 1, 2))]);
    assert!(matches!(verify_meter(&forged), CeremonyError::InitialSectionAltered { section: "IC", .. }));
}

#[test]
fn truncated_files_are_refused() {
    let Some(c) = ceremony() else { return };
    let bytes = std::fs::read(&c.transcripts[2]).unwrap();
    let cut = c.dir.path().join("cut.zkey");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let err = verify_meter(&cut);
    assert!(matches!(&err, CeremonyError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("section 10 (contributions)"), "{err}");
    let err = contribute(&cut, &c.dir.path().join("x.zkey"), None, &Entropy { text: "" }, &Silent).unwrap_err();
    assert!(matches!(err, CeremonyError::Truncated { .. }), "{err}");
    let ptau_bytes = std::fs::read(&c.ptau).unwrap();
    let cut_ptau = c.dir.path().join("cut.ptau");
    std::fs::write(&cut_ptau, &ptau_bytes[..ptau_bytes.len() / 2]).unwrap();
    assert!(matches!(PtauFile::open(&cut_ptau), Err(CeremonyError::Truncated { .. })));
}

#[test]
fn a_transcript_for_another_circuit_or_ptau_and_a_small_ptau_are_refused() {
    let Some(c) = ceremony() else { return };
    let ptau11 = PtauFile::open(&c.ptau).unwrap();
    let (_, workload_r1cs) = workload();
    let err = verify(&c.transcripts[2], workload_r1cs, "the workload circuit", &ptau11, &Silent).unwrap_err();
    assert!(matches!(&err, CeremonyError::CircuitMismatch { .. }), "{err}");

    // Another ptau: the meter's transcript, from the 2^11 file, checked against a 2^9 one.
    let ptau9_path = ptau(&c.snarkjs, 9);
    let ptau9 = PtauFile::open(&ptau9_path).unwrap();
    let err = verify(&c.transcripts[2], &meter().1, "the meter circuit", &ptau9, &Silent).unwrap_err();
    assert!(matches!(&err, CeremonyError::PtauMismatch { .. }), "{err}");
    // The meter circuit needs 2^11.
    let err = init(&meter().1, "the meter circuit with 1 record slot", &ptau9, &c.dir.path().join("m.zkey"), &Silent).unwrap_err();
    assert!(matches!(&err, CeremonyError::PtauTooSmall { needed: 11, power: 9, .. }), "{err}");
    assert!(err.to_string().contains("powersOfTau28_hez_final_11.ptau"), "{err}");
}

#[test]
fn the_ptau_hash_is_blake2b_of_the_file_and_a_wrong_one_is_refused() {
    let Some(c) = ceremony() else { return };
    let ptau = PtauFile::open(&c.ptau).unwrap();
    let hash = hex::encode(ptau.blake2b(&Silent).unwrap());
    assert_eq!(hash, hex::encode(blake2b_of(&c.ptau)));
    ptau.check_hash(&hash.to_uppercase(), &Silent).unwrap();
    let mut wrong = hash.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let err = ptau.check_hash(std::str::from_utf8(&wrong).unwrap(), &Silent).unwrap_err();
    assert!(matches!(err, CeremonyError::PtauHashMismatch { .. }), "{err}");
}
