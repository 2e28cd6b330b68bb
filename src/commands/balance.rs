//! `zkmeter balance ADDRESS`: an account's resource tokens, per class.

use anyhow::Result;
use std::path::Path;
use zkmeter_circuits::ResourceClass;

use crate::chain_access::{ChainArgs, parse_address};

/// Arguments of `zkmeter balance`.
#[derive(clap::Args)]
pub struct Args {
    /// The account (0x and 40 hex digits).
    address: String,
    #[command(flatten)]
    chain: ChainArgs,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let account = parse_address(&args.address)?;
    let mut target = args.chain.open(data_dir, false)?;
    let d = target.deployment()?;
    let balances = d.balances(target.chain.as_mut(), account)?;
    println!("{account} on {} (token {})", target.description, d.token);
    for (class, amount) in ResourceClass::ALL.iter().zip(&balances) {
        println!("  {:<8} {amount:>24} {}", class.name(), class.unit());
    }
    Ok(())
}
