//! `zkmeter tokens issue|transfer`: minters issue resource tokens, holders move them.

use anyhow::Result;
use serde_json::json;
use std::path::Path;
use zkmeter_circuits::ResourceClass;

use crate::chain_access::{Acting, ChainArgs, SenderArgs, parse_address};
use crate::commands::meter::json_receipt;
use crate::output::{OutputArgs, json_amounts};
use crate::units::{parse_amount, parse_per_class, show_amounts, show_tokens};

/// Arguments of `zkmeter tokens`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Issue tokens to an account (minters; on a dev deployment, the deployer).
    Issue(MoveArgs),
    /// Transfer the sender's tokens to another account.
    Transfer(MoveArgs),
}

#[derive(clap::Args)]
struct MoveArgs {
    /// Who receives them.
    #[arg(long)]
    to: String,
    /// How many, per class, e.g. gpu=10h,network=100GB (1 gpu token = 1 GPU-hour).
    amounts: Vec<String>,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    match args.command {
        Command::Issue(args) => send(data_dir, args, true),
        Command::Transfer(args) => send(data_dir, args, false),
    }
}

fn send(data_dir: &Path, args: MoveArgs, issue: bool) -> Result<()> {
    let raw = args.out.raw;
    let amounts: [u128; ResourceClass::COUNT] = parse_per_class(&args.amounts, "amounts", |c, t| parse_amount(c, t, raw))?;
    if amounts.iter().all(|a| *a == 0) {
        return Err(crate::exit::invalid("name what to move, e.g. gpu=10h,network=100GB"));
    }
    let to = parse_address(&args.to)?;
    let mut s = args.chain.session(data_dir, true)?;
    let from = s.sender(&args.sender, if issue { Acting::Deployer } else { Acting::Consumer })?;
    let d = s.d.clone();
    let receipt = if issue {
        d.issue_tokens(s.chain(), from, to, amounts)?
    } else {
        d.transfer_tokens(s.chain(), from, to, amounts)?
    };
    let balance = d.balances(s.chain(), to)?;
    args.out.emit(
        json!({ "from": from.to_string(), "to": to.to_string(), "amounts": json_amounts(&amounts), "balance_of_to": json_amounts(&balance), "tx": json_receipt(&receipt) }),
        || {
            let verb = if issue { "issued" } else { "transferred" };
            println!("{from} {verb} {} to {to}", show_amounts(&amounts, raw));
            println!("{to} now holds {}", show_tokens(&balance, raw));
        },
    );
    Ok(())
}
