//! `zkmeter meter register|show|approve|revoke`: a provider registers its meter
//! (with the meter key's own consent) and anyone reads the registration;
//! attestors approve and revoke meters.

use anyhow::{Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use zkmeter_circuits::ResourceClass;
use zkmeter_contracts::{Address, Receipt, sign_registration};
use zkmeter_prover::identity::MeterKey;

use crate::chain_access::{Acting, ChainArgs, SenderArgs, parse_address};
use crate::exit::not_found;
use crate::output::{OutputArgs, fields, json_amounts};
use crate::units::{parse_capacity, parse_per_class, show_capacities};

/// Arguments of `zkmeter meter`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Register a meter for the sending provider (the meter key signs its
    /// consent), or change the capacity of one it registered.
    Register(RegisterArgs),
    /// Show a meter's registration: provider, approval, capacity and what its open jobs hold.
    Show(ShowArgs),
    /// Approve a meter (attestors; needed while attestation is required).
    Approve(AttestArgs),
    /// Withdraw a meter's approval (attestors).
    Revoke(AttestArgs),
}

#[derive(clap::Args)]
struct RegisterArgs {
    /// The meter's key file (`zkmeter keys new`): it signs the registration.
    #[arg(long)]
    key: PathBuf,
    /// The most the meter measures per class, e.g. gpu=8,energy=700W,network=10Gbit/s
    /// (GPUs, cores, data held, a rate, power); its jobs share it out.
    #[arg(long, required = true)]
    capacity: Vec<String>,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// The meter's address, or its key file.
    meter: String,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct AttestArgs {
    /// The meter's address, or its key file.
    meter: String,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    match args.command {
        Command::Register(args) => register(data_dir, args),
        Command::Show(args) => show(data_dir, args),
        Command::Approve(args) => attest(data_dir, args, true),
        Command::Revoke(args) => attest(data_dir, args, false),
    }
}

/// An address, or the address of a meter key file.
pub fn meter_address(text: &str) -> Result<Address> {
    if Path::new(text).is_file() {
        return Ok(MeterKey::load(Path::new(text))?.address());
    }
    parse_address(text)
}

/// The transaction in JSON.
pub fn json_receipt(r: &Receipt) -> serde_json::Value {
    json!({ "tx_hash": r.tx_hash.to_string(), "block": r.block_number, "gas_used": r.gas_used })
}

fn register(data_dir: &Path, args: RegisterArgs) -> Result<()> {
    let capacity = parse_per_class(&args.capacity, "--capacity", |c, t| parse_capacity(c, t, args.out.raw))?;
    let key = MeterKey::load(&args.key).with_context(|| format!("cannot use the meter key {}", args.key.display()))?;
    let mut s = args.chain.session(data_dir, true)?;
    let provider = s.sender(&args.sender, Acting::Provider)?;
    let meter = key.address();
    let consent = sign_registration(key.signing_key(), s.chain().chain_id(), s.d.settlement, provider);
    let d = s.d.clone();
    let receipt = d.register_meter(s.chain(), provider, meter, &zkmeter_circuits::PerClass(capacity), &consent)?;
    args.out.emit(
        json!({ "meter": meter.to_string(), "provider": provider.to_string(), "capacity": json_amounts(&capacity), "tx": json_receipt(&receipt) }),
        || {
            println!("registered meter {meter} for provider {provider}");
            println!("  capacity  {}", show_capacities(&capacity, args.out.raw));
            println!("  tx        {} (block {})", receipt.tx_hash, receipt.block_number);
        },
    );
    Ok(())
}

fn show(data_dir: &Path, args: ShowArgs) -> Result<()> {
    let meter = meter_address(&args.meter)?;
    let mut s = args.chain.session(data_dir, false)?;
    let d = s.d.clone();
    let info = d.meter_info(s.chain(), meter)?;
    if info.provider == Address::ZERO {
        return Err(not_found(format!(
            "meter {meter} is not registered on {}: its provider registers it with `zkmeter meter register --key FILE --capacity …`",
            s.target.description
        )));
    }
    let required = d.settings(s.chain())?.attestation_required;
    let available: [u64; ResourceClass::COUNT] = std::array::from_fn(|c| info.capacity.0[c] - info.committed.0[c]);
    let raw = args.out.raw;
    args.out.emit(
        json!({
            "meter": meter.to_string(),
            "provider": info.provider.to_string(),
            "approved": info.approved,
            "attestation_required": required,
            "capacity": json_amounts(&info.capacity.0),
            "committed": json_amounts(&info.committed.0),
            "available": json_amounts(&available),
        }),
        || {
            fields(&[
                ("meter", meter.to_string()),
                ("provider", info.provider.to_string()),
                (
                    "approved",
                    format!("{} (attestation {}required)", if info.approved { "yes" } else { "no" }, if required { "" } else { "not " }),
                ),
                ("capacity", show_capacities(&info.capacity.0, raw)),
                ("open jobs hold", show_capacities(&info.committed.0, raw)),
                ("available", show_capacities(&available, raw)),
            ]);
        },
    );
    Ok(())
}

fn attest(data_dir: &Path, args: AttestArgs, approve: bool) -> Result<()> {
    let meter = meter_address(&args.meter)?;
    let mut s = args.chain.session(data_dir, true)?;
    let attestor = s.sender(&args.sender, Acting::Deployer)?;
    let d = s.d.clone();
    let receipt = if approve { d.approve_meter(s.chain(), attestor, meter)? } else { d.revoke_meter(s.chain(), attestor, meter)? };
    let done = if approve { "approved" } else { "revoked the approval of" };
    args.out.emit(
        json!({ "meter": meter.to_string(), "approved": approve, "attestor": attestor.to_string(), "tx": json_receipt(&receipt) }),
        || println!("{attestor} {done} meter {meter} (tx {}, block {})", receipt.tx_hash, receipt.block_number),
    );
    Ok(())
}
