//! `zkmeter chain deploy` and `zkmeter chain status`: put zkmeter on a chain and
//! see what it holds.

use anyhow::{Result, bail};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use zkmeter_circuits::keys::key_origin;
use zkmeter_contracts::{Address, vk_hash};

use crate::DEFAULT_SLOTS;
use crate::chain_access::ChainArgs;
use crate::key_store::KeyStore;
use crate::output::{OutputArgs, json_amounts};
use crate::units::{show_amounts, show_tokens};

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
    /// Deploy development keys (`zkmeter setup`) to a chain that is not a local
    /// development chain. Whoever ran that setup can forge any proof.
    #[arg(long)]
    allow_development_keys: bool,
}

#[derive(clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Show at most this many jobs (the latest).
    #[arg(long, default_value_t = 20)]
    jobs: u64,
    #[command(flatten)]
    out: OutputArgs,
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
    let mut development = Vec::new();
    for slots in args.records {
        let slots = super::check_slots(slots)?;
        let (path, header, vk) = keys.verifying_key(None, slots)?;
        if !key_origin(&path)?.is_ceremony() {
            development.push(path);
        }
        circuits.push((header, vk));
    }
    let mut target = args.chain.open(data_dir, true)?;
    if !development.is_empty() && !target.is_development_chain() && !args.allow_development_keys {
        let paths: Vec<String> = development.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "{} is chain {}, not a local development chain, and {} {} development keys from a single-party setup: \
             whoever ran that setup can forge proofs and mint tokens for usage that never happened. Run a ceremony \
             (`zkmeter ceremony`, see the README's \"Production keys\") and finalize its keys into {}, or pass \
             --allow-development-keys if this chain is only for testing",
            target.description,
            target.chain.chain_id(),
            paths.join(", "),
            if paths.len() == 1 { "holds" } else { "hold" },
            keys.dir().display()
        );
    }
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
    let keys = KeyStore::new(data_dir);
    let verifiers: Vec<(u32, Address, String)> = d
        .circuits
        .iter()
        .map(|c| {
            let local = match keys.verifying_key(None, c.slots) {
                Ok((path, _, vk)) if vk_hash(&vk) == c.vk_hash => match key_origin(&path) {
                    Ok(origin) => format!("holds {}, a {origin}", path.display()),
                    Err(e) => format!("holds {}, whose origin is unreadable: {e}", path.display()),
                },
                Ok((path, _, _)) => format!("holds another key than {}", path.display()),
                Err(e)
                    if matches!(e.downcast_ref::<zkmeter_circuits::KeyError>(), Some(zkmeter_circuits::KeyError::Missing { .. })) =>
                {
                    "no local key for it".to_owned()
                }
                Err(e) => format!("the local key is unusable: {e:#}"),
            };
            (c.slots, c.verifier, local)
        })
        .collect();
    let count = d.job_count(chain)?;
    let mut accounts: BTreeSet<Address> = [d.deployer].into();
    let mut jobs = Vec::new();
    for id in count.saturating_sub(args.jobs) + 1..=count {
        let job = d.job(chain, id)?;
        accounts.extend([job.consumer, job.provider]);
        jobs.push((id, job));
    }
    let mut balances = Vec::new();
    for account in accounts {
        balances.push((account, d.balances(chain, account)?));
    }
    let raw = args.out.raw;
    let json = json!({
        "chain": target.description, "chain_id": d.chain_id, "block": block.number, "block_time": block.timestamp,
        "genesis_id": d.genesis_id.to_string(),
        "deployment": target.deployment_path.display().to_string(), "deployer": d.deployer.to_string(),
        "token": d.token.to_string(), "settlement": d.settlement.to_string(),
        "verifiers": verifiers.iter().map(|(n, v, local)| json!({ "records": n, "verifier": v.to_string(), "local_key": local })).collect::<Vec<_>>(),
        "job_count": count,
        "jobs": jobs.iter().map(|(id, j)| json!({
            "job": id, "open": j.open, "meter": j.meter.to_string(), "seq": j.state.seq, "end_ms": j.state.end_ms, "escrow": json_amounts(&j.escrow),
        })).collect::<Vec<_>>(),
        "balances": balances.iter().map(|(a, b)| json!({ "account": a.to_string(), "balances": json_amounts(b) })).collect::<Vec<_>>(),
    });
    args.out.emit(json, || {
        println!("chain        {}, id {}, block {} at unix time {}", target.description, d.chain_id, block.number, block.timestamp);
        println!("genesis id   {} (deployments, receipts and stream logs belong to this chain only)", d.genesis_id);
        println!("deployment   {} (by {}, block {})", target.deployment_path.display(), d.deployer, d.block_number);
        println!("token        {}", d.token);
        println!("settlement   {}", d.settlement);
        for (slots, verifier, local) in &verifiers {
            println!("verifier     N = {slots:<5} {verifier} ({local})");
        }
        println!("\njobs: {count}");
        if count > 0 {
            println!("  {:>4}  {:<6}  {:<42}  {:>6}  {:>14}  escrow left", "job", "status", "meter", "seq", "end ms");
        }
        for (id, job) in &jobs {
            println!(
                "  {id:>4}  {:<6}  {}  {:>6}  {:>14}  {}",
                if job.open { "open" } else { "closed" },
                job.meter,
                job.state.seq,
                job.state.end_ms,
                show_amounts(&job.escrow, raw)
            );
        }
        println!("\nbalances");
        for (account, b) in &balances {
            let role = if *account == d.deployer { " (deployer)" } else { "" };
            println!("  {account}{role}: {}", show_tokens(b, raw));
        }
    });
    Ok(())
}
