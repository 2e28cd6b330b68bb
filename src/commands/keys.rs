//! `zkmeter keys new|show`: a meter's signing key (secp256k1, in a 0600 file) and
//! the address to register on the settlement contract.

use anyhow::Result;
use rand::rngs::OsRng;
use std::path::PathBuf;
use zkmeter_prover::identity::MeterKey;

/// Arguments of `zkmeter keys`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Make a new meter key (never overwrites) and print its address.
    New {
        /// Where to write it (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the address of a meter key.
    Show {
        /// The key file.
        key: PathBuf,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::New { out } => {
            let key = MeterKey::generate(&out, &mut OsRng)?;
            println!("{}", key.address());
            eprintln!("wrote {} (mode 0600); register this address as a meter on the settlement contract", out.display());
        }
        Command::Show { key } => println!("{}", MeterKey::load(&key)?.address()),
    }
    Ok(())
}
