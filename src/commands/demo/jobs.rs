//! The demo's parties on the chain: its meters (keys derived from public strings),
//! the consumer's token budget, and its jobs — the open ones an earlier run left
//! are resumed, new ones opened only for meters without one.

use anyhow::{Result, bail};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha3::{Digest, Keccak256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zkmeter_circuits::{Capacity, ResourceClass};
use zkmeter_contracts::{Address, CLASSES, Chain, DEV_ACCOUNTS, Deployment, U256, sign_registration};
use zkmeter_prover::identity::MeterKey;

use crate::units::show_tokens;

/// The dev accounts the demo uses: the provider owns the meters, the consumer
/// opens the jobs (the deployer, account 0, issues the consumer's budget).
pub const PROVIDER: Address = DEV_ACCOUNTS[1];
pub const CONSUMER: Address = DEV_ACCOUNTS[2];

/// The classes each demo meter bills, by meter index in turn: each job bills all
/// of its classes through its one stream.
const METER_CLASSES: [[ResourceClass; 3]; 3] = [
    [ResourceClass::Gpu, ResourceClass::Energy, ResourceClass::Network],
    [ResourceClass::Cpu, ResourceClass::Storage, ResourceClass::Network],
    [ResourceClass::Gpu, ResourceClass::Cpu, ResourceClass::Energy],
];

/// The consumer's budget, issued once per chain: a million seconds of every
/// class at the demo capacity. Issued once, it makes the tokens on the chain a
/// known amount: the consumer's, the provider's and the escrow always add up to it.
const BUDGET_MS: u128 = 1_000_000_000;

/// One demo stream: its meter's key file, its job and what it meters.
pub struct DemoStream {
    pub key_file: PathBuf,
    pub meter: Address,
    pub job_id: u64,
    pub classes: [ResourceClass; 3],
    /// An earlier run opened it; this run finishes it.
    pub resumed: bool,
}

/// The classes demo meter `index` bills.
pub fn classes(index: usize) -> [ResourceClass; 3] {
    METER_CLASSES[index % METER_CLASSES.len()]
}

/// The tokens the consumer's budget holds per class.
pub fn budget(capacity: &Capacity) -> [u128; CLASSES] {
    capacity.0.map(|c| u128::from(c) * BUDGET_MS)
}

/// The demo's meter key file for stream `index`: the key is derived from a public
/// string, so anyone can sign as these meters. Demo only.
pub fn meter_key(data_dir: &Path, index: usize) -> Result<(PathBuf, MeterKey)> {
    let path = data_dir.join("demo").join(format!("meter-{index}.key"));
    if path.exists() {
        return Ok((path.clone(), MeterKey::load(&path)?));
    }
    let seed: [u8; 32] = Keccak256::digest(format!("zkmeter demo meter key {index}")).into();
    let key = MeterKey::generate(&path, &mut ChaCha20Rng::from_seed(seed))?;
    Ok((path, key))
}

/// Issues the consumer its budget if no demo tokens exist on this chain yet
/// (neither the consumer, the provider nor the escrow holds any): once per chain,
/// whatever happens between runs.
pub fn ensure_budget(chain: &mut dyn Chain, d: &Deployment, capacity: &Capacity) -> Result<()> {
    let held = [CONSUMER, PROVIDER, d.settlement]
        .into_iter()
        .map(|a| d.balances(chain, a))
        .collect::<Result<Vec<_>, _>>()?;
    if held.iter().flatten().all(U256::is_zero) {
        let budget = budget(capacity);
        d.mint_tokens(chain, CONSUMER, budget)?;
        println!("issued the consumer its budget: {}", show_tokens(&budget.map(U256::from), true));
    }
    Ok(())
}

/// The open jobs of demo meters an earlier run left, by meter index.
fn open_demo_jobs(chain: &mut dyn Chain, d: &Deployment, meters: &BTreeMap<Address, usize>) -> Result<BTreeMap<usize, u64>> {
    let mut open = BTreeMap::new();
    for id in 1..=d.job_count(chain)? {
        let job = d.job(chain, id)?;
        if let (true, true, Some(&index)) = (job.open, job.consumer == CONSUMER, meters.get(&job.meter)) {
            open.insert(index, id);
        }
    }
    Ok(open)
}

/// The demo's streams: every open job of a demo meter (resumed), then a new job
/// for each of the first `streams` meters that has none, escrowing what it can
/// bill at most. `before_opening` runs before each new job (the caller refuses to
/// escrow anything once a stop was asked for, or when a job's log would clash).
pub fn resume_or_open(
    chain: &mut dyn Chain,
    d: &Deployment,
    data_dir: &Path,
    streams: usize,
    capacity: &Capacity,
    escrow_per_class: impl Fn(ResourceClass) -> u128,
    mut before_opening: impl FnMut(u64) -> Result<()>,
) -> Result<Vec<DemoStream>> {
    let known = streams.max(METER_CLASSES.len() * 4);
    let mut keys = Vec::new();
    for index in 0..known {
        keys.push(meter_key(data_dir, index)?);
    }
    let meters: BTreeMap<Address, usize> = keys.iter().enumerate().map(|(i, (_, k))| (k.address(), i)).collect();
    let open = open_demo_jobs(chain, d, &meters)?;
    let mut out = Vec::new();
    for (&index, &job_id) in &open {
        let (key_file, key) = &keys[index];
        println!("job {job_id}: meter {} ({}), left open by an earlier run: resuming it", key.address(), names(index));
        out.push(DemoStream { key_file: key_file.clone(), meter: key.address(), job_id, classes: classes(index), resumed: true });
    }
    let expires_at = chain.block()?.timestamp + 24 * 3600;
    for index in (0..streams).filter(|i| !open.contains_key(i)) {
        let (key_file, key) = &keys[index];
        let meter = key.address();
        let info = d.meter_info(chain, meter)?;
        if info.provider == Address::ZERO {
            let consent = sign_registration(key.signing_key(), chain.chain_id(), d.settlement, PROVIDER);
            d.register_meter(chain, PROVIDER, meter, capacity, &consent)?;
        } else if info.provider != PROVIDER || info.capacity != *capacity {
            bail!(
                "meter {meter} is registered on this chain by {} with capacity {:?}, not as the demo registers it: run \
                 the demo with a fresh --data-dir",
                info.provider,
                info.capacity
            );
        }
        let mut escrow = [0u128; CLASSES];
        for class in classes(index) {
            escrow[class.index()] = escrow_per_class(class);
        }
        let held = d.balances(chain, CONSUMER)?;
        if let Some(class) = ResourceClass::ALL.into_iter().find(|c| held[c.index()] < U256::from(escrow[c.index()])) {
            bail!(
                "the demo consumer holds {} of {class}, less than a new job escrows ({}): its budget is spent; run the \
                 demo with a new --data-dir",
                held[class.index()],
                escrow[class.index()]
            );
        }
        before_opening(d.job_count(chain)? + 1)?;
        let job_id = d.open_job(chain, CONSUMER, meter, capacity, expires_at, escrow)?.job_id;
        println!("job {job_id}: meter {meter} ({}), escrow {}", names(index), show_tokens(&escrow.map(U256::from), true));
        out.push(DemoStream { key_file: key_file.clone(), meter, job_id, classes: classes(index), resumed: false });
    }
    Ok(out)
}

fn names(index: usize) -> String {
    classes(index).iter().map(|c| c.name()).collect::<Vec<_>>().join(" + ")
}
