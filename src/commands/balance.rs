//! `zkmeter balance ADDRESS`: an account's resource tokens, per class.

use anyhow::Result;
use serde_json::json;
use std::path::Path;
use zkmeter_circuits::ResourceClass;

use crate::chain_access::{ChainArgs, parse_address};
use crate::output::{OutputArgs, Table, json_amounts};
use crate::units::show_amount;

/// Arguments of `zkmeter balance`.
#[derive(clap::Args)]
pub struct Args {
    /// The account (0x and 40 hex digits).
    address: String,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let account = parse_address(&args.address)?;
    let mut s = args.chain.session(data_dir, false)?;
    let d = s.d.clone();
    let balances = d.balances(s.chain(), account)?;
    args.out.emit(json!({ "account": account.to_string(), "token": d.token.to_string(), "balances": json_amounts(&balances) }), || {
        println!("{account} on {} (token {})", s.target.description, d.token);
        let mut table = Table::new(&["class", ">amount", ">base units", "unit"]);
        for (class, amount) in ResourceClass::ALL.iter().zip(&balances) {
            let human = match u128::try_from(*amount) {
                Ok(v) => show_amount(*class, v, args.out.raw),
                Err(_) => format!("{amount} {}", class.unit()),
            };
            table.row(vec![class.name().into(), human, amount.to_string(), class.unit().into()]);
        }
        table.print();
    });
    Ok(())
}
