//! Governance and administration: `zkmeter tariff set|show`, `fee set|show`,
//! `circuit set|show`, `settings set|show` (settlement grace, clock skew,
//! attestation) and `role grant|revoke|show`. Reads need no key; changes come
//! from an account holding the governance (or, for roles, admin) role: the
//! deployer on a dev deployment.

use anyhow::Result;
use serde_json::json;
use std::path::Path;
use zkmeter_circuits::ResourceClass;
use zkmeter_contracts::{Address, B256, Role, Tariff};

use crate::chain_access::{Acting, ChainArgs, SenderArgs, Session, parse_address};
use crate::commands::meter::json_receipt;
use crate::exit::{invalid, not_found};
use crate::output::{OutputArgs, Table, fields};
use crate::units::{parse_duration_ms, parse_duration_s, show_amount, show_duration_ms, show_duration_s};

/// Arguments of `zkmeter tariff`.
#[derive(clap::Args)]
pub struct TariffArgs {
    #[command(subcommand)]
    command: TariffCommand,
}

#[derive(clap::Subcommand)]
enum TariffCommand {
    /// Set a class's price: AMOUNT token base units per PER units of usage; `work`
    /// sets the price of verified work (per multiply-accumulate, paid in --class).
    Set(TariffSetArgs),
    /// Show every class's price and the price of work.
    Show(ReadArgs),
}

#[derive(clap::Args)]
struct TariffSetArgs {
    /// gpu, cpu, storage, network, energy, or work.
    class: String,
    /// Token base units billed …
    #[arg(long)]
    amount: u128,
    /// … per this many units of usage (base units, or multiply-accumulates for work).
    #[arg(long, default_value_t = 1)]
    per: u128,
    /// For work: the class its price is paid in.
    #[arg(long, default_value = "gpu")]
    paid_in: ResourceClass,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct ReadArgs {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// Arguments of `zkmeter fee`.
#[derive(clap::Args)]
pub struct FeeArgs {
    #[command(subcommand)]
    command: FeeCommand,
}

#[derive(clap::Subcommand)]
enum FeeCommand {
    /// Set the protocol fee: the share of each payment burned instead of paid to
    /// the provider, e.g. 2.5% or 250bps (at most 10%).
    Set(FeeSetArgs),
    /// Show the protocol fee.
    Show(ReadArgs),
}

#[derive(clap::Args)]
struct FeeSetArgs {
    /// The fee, e.g. 2.5% or 250bps.
    fee: String,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// Arguments of `zkmeter circuit`.
#[derive(clap::Args)]
pub struct CircuitArgs {
    #[command(subcommand)]
    command: CircuitCommand,
}

#[derive(clap::Subcommand)]
enum CircuitCommand {
    /// Print a circuit's size and the powers-of-tau file a ceremony for it needs.
    Info(super::circuit::InfoArgs),
    /// Write a circuit as a circom .r1cs file (wires: 1, public inputs, witness).
    Export(super::circuit::ExportArgs),
    /// Register a verifier contract for a circuit (0x0…0 removes it). `zkmeter
    /// chain deploy` does this for the keys it deploys; this is for verifiers
    /// deployed otherwise (e.g. from a ceremony's keys).
    Set(CircuitSetArgs),
    /// Show the deployment's circuits and the verifier the contract holds for each.
    Show(ReadArgs),
}

#[derive(clap::Args)]
struct CircuitSetArgs {
    /// The circuit id (0x and 64 hex digits), N for the deployment's meter circuit
    /// of N record slots, or a workload circuit's name.
    circuit: String,
    /// The verifier contract's address.
    verifier: String,
    /// Register it in the workload registry (a 4-input verifier).
    #[arg(long)]
    work: bool,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// Arguments of `zkmeter settings`.
#[derive(clap::Args)]
pub struct SettingsArgs {
    #[command(subcommand)]
    command: SettingsCommand,
}

#[derive(clap::Subcommand)]
enum SettingsCommand {
    /// Change the settlement grace, the clock skew or whether meters need approval.
    Set(SettingsSetArgs),
    /// Show the fee, the grace, the clock skew and the attestation requirement.
    Show(ReadArgs),
}

#[derive(clap::Args)]
struct SettingsSetArgs {
    /// How long after its expiry a job still settles (and only its provider may close it), e.g. 1d, 30s.
    #[arg(long)]
    grace: Option<String>,
    /// How far past the chain's clock an epoch may end, e.g. 5m (at most 1h).
    #[arg(long)]
    clock_skew: Option<String>,
    /// Whether meters need an attestor's approval: on or off.
    #[arg(long)]
    attestation: Option<OnOff>,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// Arguments of `zkmeter role`.
#[derive(clap::Args)]
pub struct RoleArgs {
    #[command(subcommand)]
    command: RoleCommand,
}

#[derive(clap::Subcommand)]
enum RoleCommand {
    /// Grant a role (admin, governance, attestor, minter) to an account (the admin's call).
    Grant(RoleChangeArgs),
    /// Revoke a role from an account (the admin's call).
    Revoke(RoleChangeArgs),
    /// Show the roles an account holds.
    Show(RoleShowArgs),
}

#[derive(clap::Args)]
struct RoleChangeArgs {
    /// admin, governance, attestor or minter.
    role: String,
    /// The account.
    account: String,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct RoleShowArgs {
    /// The account.
    account: String,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

pub fn tariff(data_dir: &Path, args: TariffArgs) -> Result<()> {
    match args.command {
        TariffCommand::Set(args) => tariff_set(data_dir, args),
        TariffCommand::Show(args) => tariff_show(data_dir, args),
    }
}

fn tariff_set(data_dir: &Path, args: TariffSetArgs) -> Result<()> {
    if args.per == 0 {
        return Err(invalid("--per must be at least 1: a price is AMOUNT per PER units"));
    }
    let work = args.class == "work";
    let class = if work {
        args.paid_in
    } else {
        args.class.parse::<ResourceClass>().map_err(|_| {
            invalid(format!("{:?} is not a class: write gpu, cpu, storage, network, energy or work", args.class))
        })?
    };
    let tariff = Tariff { amount: args.amount, per: args.per };
    let mut s = args.chain.session(data_dir, true)?;
    let from = s.sender(&args.sender, Acting::Deployer)?;
    let d = s.d.clone();
    let receipt = if work {
        d.set_work_tariff_from(s.chain(), from, class.index(), tariff)?
    } else {
        d.set_tariff(s.chain(), from, class.index(), tariff)?
    };
    args.out.emit(
        json!({ "class": args.class, "paid_in": class.name(), "amount": tariff.amount.to_string(), "per": tariff.per.to_string(), "tx": json_receipt(&receipt) }),
        || {
            if work {
                println!("work now costs {} {class} token base units per {} multiply-accumulates", tariff.amount, tariff.per);
            } else {
                println!("{class} now costs {} token base units per {} {}", tariff.amount, tariff.per, class.unit());
                println!("{}", price_line(class, tariff));
            }
        },
    );
    Ok(())
}

/// "an hour of gpu use costs 1h of gpu tokens": the price in human units.
fn price_line(class: ResourceClass, t: Tariff) -> String {
    let (what, usage): (&str, u128) = match class {
        ResourceClass::Gpu | ResourceClass::Cpu => ("an hour of", 3_600_000),
        ResourceClass::Storage => ("1GB-h of", 3_600_000_000_000),
        ResourceClass::Network => ("1GB of", 1_000_000_000),
        ResourceClass::Energy => ("1kWh of", 3_600_000_000),
    };
    let cost = usage.saturating_mul(t.amount) / t.per;
    format!("{what} {class} use costs {} of {class} tokens", show_amount(class, cost, false))
}

fn tariff_show(data_dir: &Path, args: ReadArgs) -> Result<()> {
    let mut s = args.chain.session(data_dir, false)?;
    let d = s.d.clone();
    let tariffs = d.tariffs(s.chain())?;
    let (work_class, work_amount, work_per) = d.work_tariff(s.chain())?;
    let work_class = ResourceClass::ALL[work_class];
    args.out.emit(
        json!({
            "classes": ResourceClass::ALL.iter().zip(&tariffs).map(|(c, t)| (c.name().to_owned(), json!({ "amount": t.amount.to_string(), "per": t.per.to_string() }))).collect::<serde_json::Map<_, _>>(),
            "work": { "paid_in": work_class.name(), "amount": work_amount.to_string(), "per": work_per.to_string() },
        }),
        || {
            let mut table = Table::new(&["class", ">amount", ">per", "price"]);
            for (class, t) in ResourceClass::ALL.iter().zip(&tariffs) {
                table.row(vec![class.to_string(), t.amount.to_string(), format!("{} {}", t.per, class.unit()), price_line(*class, *t)]);
            }
            table.row(vec![
                "work".into(),
                work_amount.to_string(),
                format!("{work_per} MAC"),
                format!("paid in {work_class} tokens, per multiply-accumulate (MAC)"),
            ]);
            table.print();
        },
    );
    Ok(())
}

pub fn fee(data_dir: &Path, args: FeeArgs) -> Result<()> {
    match args.command {
        FeeCommand::Set(args) => {
            let bps = parse_fee(&args.fee)?;
            let mut s = args.chain.session(data_dir, true)?;
            let from = s.sender(&args.sender, Acting::Deployer)?;
            let d = s.d.clone();
            let receipt = d.set_protocol_fee(s.chain(), from, bps)?;
            args.out.emit(json!({ "protocol_fee_bps": bps, "tx": json_receipt(&receipt) }), || {
                println!("protocol fee now {} ({bps} bps): burned from each payment, the rest paid to the provider", percent(bps));
            });
            Ok(())
        }
        FeeCommand::Show(args) => {
            let mut s = args.chain.session(data_dir, false)?;
            let d = s.d.clone();
            let bps = d.settings(s.chain())?.protocol_fee_bps;
            args.out.emit(json!({ "protocol_fee_bps": bps }), || println!("protocol fee {} ({bps} bps)", percent(bps)));
            Ok(())
        }
    }
}

fn percent(bps: u16) -> String {
    let (int, frac) = (bps / 100, bps % 100);
    if frac == 0 { format!("{int}%") } else { format!("{int}.{}%", format!("{frac:02}").trim_end_matches('0')) }
}

/// "2.5%" or "250bps" as basis points, exactly.
fn parse_fee(text: &str) -> Result<u16> {
    let t = text.trim();
    let refuse = || invalid(format!("fee {text:?}: write a percentage with at most two decimals (2.5%) or basis points (250bps), at most 10%"));
    let bps = if let Some(bps) = t.strip_suffix("bps") {
        bps.trim().parse::<u32>().map_err(|_| refuse())?
    } else if let Some(pct) = t.strip_suffix('%') {
        let (int, frac) = pct.trim().split_once('.').unwrap_or((pct.trim(), ""));
        if frac.len() > 2 {
            return Err(refuse());
        }
        let int: u32 = int.parse().map_err(|_| refuse())?;
        let frac: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| refuse())? };
        int * 100 + frac
    } else {
        return Err(refuse());
    };
    u16::try_from(bps).ok().filter(|b| *b <= 1_000).ok_or_else(refuse)
}

pub fn circuit(data_dir: &Path, args: CircuitArgs) -> Result<()> {
    match args.command {
        CircuitCommand::Info(args) => super::circuit::run_info(args),
        CircuitCommand::Export(args) => super::circuit::run_export(args),
        CircuitCommand::Set(args) => {
            let verifier = parse_address(&args.verifier)?;
            let mut s = args.chain.session(data_dir, true)?;
            let id = circuit_id(&s, &args.circuit, args.work)?;
            let from = s.sender(&args.sender, Acting::Deployer)?;
            let d = s.d.clone();
            let receipt = d.set_circuit(s.chain(), from, id, verifier, args.work)?;
            let registry = if args.work { "workload" } else { "meter" };
            args.out.emit(
                json!({ "circuit_id": id.to_string(), "registry": registry, "verifier": verifier.to_string(), "tx": json_receipt(&receipt) }),
                || {
                    println!("{registry} circuit {id} now verified by {verifier}");
                    let listed = d.circuits.iter().map(|c| (c.circuit_id, c.verifier)).chain(d.work_circuits.iter().map(|c| (c.circuit_id, c.verifier)));
                    if let Some((_, old)) = listed.into_iter().find(|(c, v)| *c == id && *v != verifier) {
                        println!(
                            "{} still names {old} for it: `zkmeter chain deploy` would register that again",
                            s.target.deployment_path.display()
                        );
                    }
                },
            );
            Ok(())
        }
        CircuitCommand::Show(args) => {
            let mut s = args.chain.session(data_dir, false)?;
            let d = s.d.clone();
            let mut rows = Vec::new();
            for c in &d.circuits {
                rows.push(("meter", format!("{} N = {}", c.circuit, c.slots), c.circuit_id, c.verifier, d.verifier_of(s.chain(), c.circuit_id, false)?));
            }
            for c in &d.work_circuits {
                rows.push(("workload", c.circuit.clone(), c.circuit_id, c.verifier, d.verifier_of(s.chain(), c.circuit_id, true)?));
            }
            args.out.emit(
                json!({ "circuits": rows.iter().map(|(kind, name, id, listed, on_chain)| json!({
                    "registry": kind, "circuit": name, "circuit_id": id.to_string(), "deployment_verifier": listed.to_string(), "verifier": on_chain.to_string(),
                })).collect::<Vec<_>>() }),
                || {
                    let mut table = Table::new(&["registry", "circuit", "id", "verifier on chain"]);
                    for (kind, name, id, listed, on_chain) in &rows {
                        let note = if on_chain == listed { String::new() } else { format!(" (the deployment file names {listed})") };
                        table.row(vec![kind.to_string(), name.clone(), id.to_string(), format!("{on_chain}{note}")]);
                    }
                    table.print();
                },
            );
            Ok(())
        }
    }
}

/// A circuit id: hex, N of a deployed meter circuit, or a deployed workload circuit's name.
fn circuit_id(s: &Session, text: &str, work: bool) -> Result<B256> {
    if let Ok(id) = text.parse::<B256>() {
        return Ok(id);
    }
    let found = if work {
        s.d.work_circuit(text).map(|c| c.circuit_id)
    } else {
        text.parse::<u32>().ok().and_then(|n| s.d.circuit(n)).map(|c| c.circuit_id)
    };
    found.ok_or_else(|| {
        not_found(format!(
            "{text:?} is neither a circuit id (0x and 64 hex digits) nor a {} circuit of {}: `zkmeter circuit show` lists them",
            if work { "workload" } else { "meter" },
            s.target.deployment_path.display()
        ))
    })
}

pub fn settings(data_dir: &Path, args: SettingsArgs) -> Result<()> {
    match args.command {
        SettingsCommand::Set(args) => {
            let grace = args.grace.as_deref().map(parse_duration_s).transpose()?;
            let skew = args.clock_skew.as_deref().map(parse_duration_ms).transpose()?;
            if grace.is_none() && skew.is_none() && args.attestation.is_none() {
                return Err(invalid("name a setting to change: --grace, --clock-skew or --attestation"));
            }
            let mut s = args.chain.session(data_dir, true)?;
            let from = s.sender(&args.sender, Acting::Deployer)?;
            let d = s.d.clone();
            let mut txs = Vec::new();
            if let Some(grace) = grace {
                txs.push(json_receipt(&d.set_settlement_grace(s.chain(), from, grace)?));
            }
            if let Some(skew) = skew {
                txs.push(json_receipt(&d.set_clock_skew(s.chain(), from, skew)?));
            }
            if let Some(on) = args.attestation {
                txs.push(json_receipt(&d.set_attestation_required(s.chain(), from, on == OnOff::On)?));
            }
            show_settings(&mut s, args.out, Some(txs))
        }
        SettingsCommand::Show(args) => {
            let mut s = args.chain.session(data_dir, false)?;
            show_settings(&mut s, args.out, None)
        }
    }
}

fn show_settings(s: &mut Session, out: OutputArgs, txs: Option<Vec<serde_json::Value>>) -> Result<()> {
    let d = s.d.clone();
    let set = d.settings(s.chain())?;
    let mut json = json!({
        "protocol_fee_bps": set.protocol_fee_bps,
        "settlement_grace_s": set.settlement_grace,
        "clock_skew_ms": set.clock_skew_ms,
        "attestation_required": set.attestation_required,
    });
    if let Some(txs) = txs {
        json["txs"] = txs.into();
    }
    out.emit(json, || {
        fields(&[
            ("protocol fee", format!("{} ({} bps)", percent(set.protocol_fee_bps), set.protocol_fee_bps)),
            ("settlement grace", format!("{} after a job's expiry", show_duration_s(set.settlement_grace))),
            ("clock skew", format!("{} past the chain's clock", show_duration_ms(set.clock_skew_ms))),
            ("attestation", if set.attestation_required { "required".into() } else { "not required".to_owned() }),
        ]);
    });
    Ok(())
}

fn parse_role(text: &str) -> Result<Role> {
    Role::ALL
        .into_iter()
        .find(|r| r.name() == text)
        .ok_or_else(|| invalid(format!("{text:?} is not a role: write admin, governance, attestor or minter")))
}

pub fn role(data_dir: &Path, args: RoleArgs) -> Result<()> {
    let (args, grant) = match args.command {
        RoleCommand::Show(args) => return role_show(data_dir, args),
        RoleCommand::Grant(args) => (args, true),
        RoleCommand::Revoke(args) => (args, false),
    };
    let role = parse_role(&args.role)?;
    let account = parse_address(&args.account)?;
    let mut s = args.chain.session(data_dir, true)?;
    let from = s.sender(&args.sender, Acting::Deployer)?;
    let d = s.d.clone();
    let receipt = if grant { d.grant_role(s.chain(), from, role, account)? } else { d.revoke_role(s.chain(), from, role, account)? };
    args.out.emit(
        json!({ "role": role.name(), "account": account.to_string(), "granted": grant, "tx": json_receipt(&receipt) }),
        || println!("{} the {} role {} {account}", if grant { "granted" } else { "revoked" }, role.name(), if grant { "to" } else { "from" }),
    );
    Ok(())
}

fn role_show(data_dir: &Path, args: RoleShowArgs) -> Result<()> {
    let account: Address = parse_address(&args.account)?;
    let mut s = args.chain.session(data_dir, false)?;
    let d = s.d.clone();
    let mut held = Vec::new();
    for role in Role::ALL {
        if d.has_role(s.chain(), role, account)? {
            held.push(role.name());
        }
    }
    args.out.emit(json!({ "account": account.to_string(), "roles": held }), || {
        println!("{account}: {}", if held.is_empty() { "no role".to_owned() } else { held.join(", ") });
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_read_exactly_in_percent_or_basis_points() {
        assert_eq!(parse_fee("2.5%").unwrap(), 250);
        assert_eq!(parse_fee("250bps").unwrap(), 250);
        assert_eq!(parse_fee("10%").unwrap(), 1_000);
        assert_eq!(parse_fee("0.01%").unwrap(), 1);
        for bad in ["2.555%", "11%", "0.5", "x%"] {
            assert!(parse_fee(bad).unwrap_err().to_string().contains("2.5%"), "{bad}");
        }
        assert_eq!(percent(250), "2.5%");
        assert_eq!(percent(1), "0.01%");
    }
}
