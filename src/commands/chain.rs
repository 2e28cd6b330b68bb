//! `zkmeter chain deploy` and `zkmeter chain status`: put zkmeter on a chain and
//! see what it holds.

use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;
use zkmeter_contracts::{Address, vk_hash};

use crate::DEFAULT_SLOTS;
use crate::chain_access::{ChainArgs, tokens};
use crate::key_store::KeyStore;

/// Arguments of `zkmeter chain`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Deploy the token, the settlement contract and a verifier per circuit (or
    /// bring an existing deployment up to date with the keys in the data directory).
    Deploy(DeployArgs),
    /// Show the contracts, the jobs and their stream states, and balances.
    Status(StatusArgs),
}

#[derive(clap::Args)]
struct DeployArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Deploy a verifier for the keys with this many record slots (repeat for several).
    #[arg(long = "records", default_values_t = [DEFAULT_SLOTS])]
    records: Vec<u32>,
}

#[derive(clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Show at most this many jobs (the latest).
    #[arg(long, default_value_t = 20)]
    jobs: u64,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    match args.command {
        Command::Deploy(args) => deploy(data_dir, args),
        Command::Status(args) => status(data_dir, args),
    }
}

fn deploy(data_dir: &Path, args: DeployArgs) -> Result<()> {
    let keys = KeyStore::new(data_dir);
    let mut circuits = Vec::new();
    for slots in args.records {
        let slots = super::check_slots(slots)?;
        let (_, header, vk) = keys.verifying_key(None, slots)?;
        circuits.push((header, vk));
    }
    let mut target = args.chain.open(data_dir, true)?;
    let (d, report) = target.ensure_deployed(&circuits)?;
    println!("chain {}, id {}", target.description, d.chain_id);
    for line in report {
        println!("  {line}");
    }
    println!("deployment written to {}", target.deployment_path.display());
    Ok(())
}

fn status(data_dir: &Path, args: StatusArgs) -> Result<()> {
    let mut target = args.chain.open(data_dir, false)?;
    let d = target.deployment()?;
    let chain = target.chain.as_mut();
    let block = chain.block()?;
    println!("chain        {}, id {}, block {} at unix time {}", target.description, d.chain_id, block.number, block.timestamp);
    println!("genesis id   {} (deployments, receipts and stream logs belong to this chain only)", d.genesis_id);
    println!("deployment   {} (by {}, block {})", target.deployment_path.display(), d.deployer, d.block_number);
    println!("token        {}", d.token);
    println!("settlement   {}", d.settlement);
    let keys = KeyStore::new(data_dir);
    for c in &d.circuits {
        let local = match keys.verifying_key(None, c.slots) {
            Ok((path, _, vk)) if vk_hash(&vk) == c.vk_hash => format!("holds {}", path.display()),
            Ok((path, _, _)) => format!("holds another key than {}", path.display()),
            Err(e) if matches!(e.downcast_ref::<zkmeter_circuits::KeyError>(), Some(zkmeter_circuits::KeyError::Missing { .. })) => {
                "no local key for it".to_owned()
            }
            Err(e) => format!("the local key is unusable: {e:#}"),
        };
        println!("verifier     N = {:<5} {} ({local})", c.slots, c.verifier);
    }

    let count = d.job_count(chain)?;
    println!("\njobs: {count}");
    let mut accounts: BTreeSet<Address> = [d.deployer].into();
    if count > 0 {
        println!("  {:>4}  {:<6}  {:<42}  {:>6}  {:>14}  escrow left", "job", "status", "meter", "seq", "end ms");
    }
    for id in count.saturating_sub(args.jobs) + 1..=count {
        let job = d.job(chain, id)?;
        accounts.extend([job.consumer, job.provider]);
        let escrow: [_; 5] = job.escrow.map(zkmeter_contracts::U256::from);
        println!(
            "  {id:>4}  {:<6}  {}  {:>6}  {:>14}  {}",
            if job.open { "open" } else { "closed" },
            job.meter,
            job.state.seq,
            job.state.end_ms,
            tokens(&escrow)
        );
    }
    println!("\nbalances");
    for account in accounts {
        let role = if account == d.deployer { " (deployer)" } else { "" };
        println!("  {account}{role}: {}", tokens(&d.balances(chain, account)?));
    }
    Ok(())
}
