//! `zkmeter job open|fund|extend|close|show|list`: a consumer's jobs, from
//! opening with escrow to closing with the rest refunded. `job close` also frees
//! jobs a stopped demo or a vanished consumer left open, and `job list --open`
//! shows what escrow each still holds.

use anyhow::Result;
use serde_json::{Value, json};
use std::path::Path;
use zkmeter_circuits::{PerClass, ResourceClass};
use zkmeter_contracts::bindings::Settlement;
use zkmeter_contracts::{Job, U256};

use crate::chain_access::{Acting, ChainArgs, SenderArgs, Session, parse_address};
use crate::commands::meter::{json_receipt, meter_address};
use crate::output::{OutputArgs, Table, fields, json_amounts};
use crate::units::{
    now_s, parse_amount, parse_capacity, parse_per_class, parse_time, show_amounts, show_capacities, show_duration_s, show_time,
    show_time_ms, show_tokens,
};

/// Arguments of `zkmeter job`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Open a job on a meter, escrowing tokens (the consumer's call).
    Open(OpenArgs),
    /// Add tokens to a job's escrow (anyone; the rest goes to the consumer at closing).
    Fund(FundArgs),
    /// Move a job's expiry, later or earlier but not into the past (the consumer's call).
    Extend(ExtendArgs),
    /// Close a job: the rest of its escrow goes back to the consumer. Its provider
    /// may close it any time, anyone once its expiry and the settlement grace have passed.
    Close(IdArgs),
    /// Show a job: who, what capacity, until when, its stream's state and its escrow.
    Show(ShowArgs),
    /// List jobs with the escrow they hold.
    List(ListArgs),
}

#[derive(clap::Args)]
struct OpenArgs {
    /// The meter that serves the job (address or key file).
    #[arg(long)]
    meter: String,
    /// Tokens to escrow, e.g. gpu=2h,network=50GB.
    #[arg(long, required = true)]
    escrow: Vec<String>,
    /// The most the job may be billed per class, e.g. gpu=2,network=1Gbit/s: at most
    /// what the meter has left beside its other open jobs.
    #[arg(long, required = true)]
    capacity: Vec<String>,
    /// When the job ends: a span from now (24h, 90m, 2d), a UTC time
    /// (2025-01-02T03:04:05Z) or @UNIX_SECONDS.
    #[arg(long, default_value = "24h")]
    expires: String,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct FundArgs {
    /// The job.
    id: u64,
    /// Tokens to add, e.g. gpu=1h.
    #[arg(long, required = true)]
    escrow: Vec<String>,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct ExtendArgs {
    /// The job.
    id: u64,
    /// The new expiry: a span from now (48h), a UTC time, @UNIX_SECONDS, or now
    /// (ends the job: its provider settles what it metered until then for the grace).
    #[arg(long)]
    expires: String,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct IdArgs {
    /// The job.
    id: u64,
    /// Send from this account: on a node the key's (the default); on the embedded
    /// chain any address (default: the job's provider, who may close it any time).
    #[arg(long)]
    from: Option<String>,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// The job.
    id: u64,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args)]
struct ListArgs {
    /// Only open jobs (what a stopped demo left behind, say).
    #[arg(long)]
    open: bool,
    /// Only this consumer's jobs.
    #[arg(long)]
    consumer: Option<String>,
    /// Only this provider's jobs.
    #[arg(long)]
    provider: Option<String>,
    /// Only jobs on this meter (address or key file).
    #[arg(long)]
    meter: Option<String>,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    match args.command {
        Command::Open(args) => open(data_dir, args),
        Command::Fund(args) => fund(data_dir, args),
        Command::Extend(args) => extend(data_dir, args),
        Command::Close(args) => close(data_dir, args),
        Command::Show(args) => show(data_dir, args),
        Command::List(args) => list(data_dir, args),
    }
}

fn escrow(spec: &[String], raw: bool) -> Result<[u128; ResourceClass::COUNT]> {
    parse_per_class(spec, "--escrow", |c, t| parse_amount(c, t, raw))
}

fn open(data_dir: &Path, args: OpenArgs) -> Result<()> {
    let raw = args.out.raw;
    let escrow = escrow(&args.escrow, raw)?;
    let capacity = parse_per_class(&args.capacity, "--capacity", |c, t| parse_capacity(c, t, raw))?;
    let expires_at = parse_time(&args.expires, now_s())?;
    let meter = meter_address(&args.meter)?;
    let mut s = args.chain.session(data_dir, true)?;
    let consumer = s.sender(&args.sender, Acting::Consumer)?;
    let d = s.d.clone();
    let opened = d.open_job(s.chain(), consumer, meter, &PerClass(capacity), expires_at, escrow)?;
    let id = opened.job_id;
    args.out.emit(
        json!({
            "job": id,
            "consumer": consumer.to_string(),
            "meter": meter.to_string(),
            "capacity": json_amounts(&capacity),
            "escrow": json_amounts(&escrow),
            "expires_at": expires_at,
            "stream_start_ms": opened.genesis.end_ms,
            "tx": json_receipt(&opened.receipt),
        }),
        || {
            println!("opened job {id} on meter {meter} for consumer {consumer}");
            fields(&[
                ("capacity", show_capacities(&capacity, raw)),
                ("escrow", show_amounts(&escrow, raw)),
                ("expires", show_time(expires_at)),
                ("stream starts", show_time_ms(opened.genesis.end_ms)),
                ("tx", format!("{} (block {})", opened.receipt.tx_hash, opened.receipt.block_number)),
            ]);
        },
    );
    Ok(())
}

fn fund(data_dir: &Path, args: FundArgs) -> Result<()> {
    let amounts = escrow(&args.escrow, args.out.raw)?;
    let mut s = args.chain.session(data_dir, true)?;
    s.job(args.id)?;
    let funder = s.sender(&args.sender, Acting::Consumer)?;
    let d = s.d.clone();
    let receipt = d.fund_job(s.chain(), funder, args.id, amounts)?;
    let job = s.job(args.id)?;
    args.out.emit(
        json!({ "job": args.id, "funder": funder.to_string(), "added": json_amounts(&amounts), "escrow": json_amounts(&job.escrow), "tx": json_receipt(&receipt) }),
        || {
            println!("added {} to job {}'s escrow", show_amounts(&amounts, args.out.raw), args.id);
            println!("escrow now {}", show_amounts(&job.escrow, args.out.raw));
        },
    );
    Ok(())
}

fn extend(data_dir: &Path, args: ExtendArgs) -> Result<()> {
    parse_time(&args.expires, now_s())?;
    let mut s = args.chain.session(data_dir, true)?;
    s.job(args.id)?;
    // The contract refuses an expiry before the block that carries it, and a node
    // that mines several blocks a second runs its clock ahead of the wall's: "now"
    // is the next block's time at the earliest.
    let next_block = s.chain().block()?.timestamp + 1;
    let expires_at = parse_time(&args.expires, now_s().max(next_block))?;
    let consumer = s.sender(&args.sender, Acting::Consumer)?;
    let d = s.d.clone();
    let receipt = d.set_job_expiry(s.chain(), consumer, args.id, expires_at)?;
    let grace = d.settings(s.chain())?.settlement_grace;
    args.out.emit(
        json!({ "job": args.id, "expires_at": expires_at, "closable_after": expires_at + grace, "tx": json_receipt(&receipt) }),
        || {
            println!("job {} now expires at {}", args.id, show_time(expires_at));
            println!(
                "its provider settles until {} ({} of grace); then anyone may close it",
                show_time(expires_at + grace),
                show_duration_s(grace)
            );
        },
    );
    Ok(())
}

fn close(data_dir: &Path, args: IdArgs) -> Result<()> {
    let mut s = args.chain.session(data_dir, true)?;
    let job = s.job(args.id)?;
    let from = match &args.from {
        None if s.target.embedded => job.provider,
        from => s.sender(&SenderArgs { from: from.clone() }, Acting::Provider)?,
    };
    let d = s.d.clone();
    let receipt = d.close_job(s.chain(), from, args.id)?;
    let refund: [u128; ResourceClass::COUNT] =
        d.event::<Settlement::JobClosed>(&receipt).next().map_or([0; ResourceClass::COUNT], |e| e.refund);
    let by = if from == job.provider { " (its provider)" } else if from == job.consumer { " (its consumer)" } else { "" };
    args.out.emit(
        json!({ "job": args.id, "closed_by": from.to_string(), "consumer": job.consumer.to_string(), "refund": json_amounts(&refund), "tx": json_receipt(&receipt) }),
        || {
            println!("closed job {} as {from}{by}", args.id);
            println!("refunded {} to consumer {}", show_amounts(&refund, args.out.raw), job.consumer);
        },
    );
    Ok(())
}

fn job_json(id: u64, job: &Job, grace: u64) -> Value {
    json!({
        "job": id,
        "open": job.open,
        "consumer": job.consumer.to_string(),
        "provider": job.provider.to_string(),
        "meter": job.meter.to_string(),
        "capacity": json_amounts(&job.capacity.0),
        "expires_at": job.expires_at,
        "closable_by_anyone_after": job.expires_at + grace,
        "stream": { "seq": job.state.seq, "end_ms": job.state.end_ms },
        "escrow": json_amounts(&job.escrow),
    })
}

fn show(data_dir: &Path, args: ShowArgs) -> Result<()> {
    let mut s = args.chain.session(data_dir, false)?;
    let job = s.job(args.id)?;
    let d = s.d.clone();
    let grace = d.settings(s.chain())?.settlement_grace;
    let raw = args.out.raw;
    args.out.emit(job_json(args.id, &job, grace), || {
        let now = now_s();
        let expiry = if job.expires_at > now {
            format!("{} (in {})", show_time(job.expires_at), show_duration_s(job.expires_at - now))
        } else {
            format!("{} ({} ago)", show_time(job.expires_at), show_duration_s(now - job.expires_at))
        };
        fields(&[
            ("job", format!("{} ({})", args.id, if job.open { "open" } else { "closed" })),
            ("consumer", job.consumer.to_string()),
            ("provider", job.provider.to_string()),
            ("meter", job.meter.to_string()),
            ("capacity", show_capacities(&job.capacity.0, raw)),
            ("expires", expiry),
            ("anyone may close", format!("after {}", show_time(job.expires_at + grace))),
            ("stream", format!("seq {}, last record ends {}", job.state.seq, show_time_ms(job.state.end_ms))),
            ("escrow", show_amounts(&job.escrow, raw)),
        ]);
    });
    Ok(())
}

fn list(data_dir: &Path, args: ListArgs) -> Result<()> {
    let consumer = args.consumer.as_deref().map(parse_address).transpose()?;
    let provider = args.provider.as_deref().map(parse_address).transpose()?;
    let meter = args.meter.as_deref().map(meter_address).transpose()?;
    let mut s: Session = args.chain.session(data_dir, false)?;
    let d = s.d.clone();
    let count = d.job_count(s.chain())?;
    let grace = d.settings(s.chain())?.settlement_grace;
    let mut jobs = Vec::new();
    for id in 1..=count {
        let job = d.job(s.chain(), id)?;
        let wanted = (!args.open || job.open)
            && consumer.is_none_or(|c| job.consumer == c)
            && provider.is_none_or(|p| job.provider == p)
            && meter.is_none_or(|m| job.meter == m);
        if wanted {
            jobs.push((id, job));
        }
    }
    let mut held = [U256::ZERO; ResourceClass::COUNT];
    for (_, job) in &jobs {
        for (h, e) in held.iter_mut().zip(job.escrow) {
            *h += U256::from(e);
        }
    }
    let raw = args.out.raw;
    args.out.emit(json!({ "jobs": jobs.iter().map(|(id, j)| job_json(*id, j, grace)).collect::<Vec<_>>() }), || {
        let mut table = Table::new(&[">job", "state", "consumer", "meter", "expires", "escrow left"]);
        for (id, job) in &jobs {
            table.row(vec![
                id.to_string(),
                (if job.open { "open" } else { "closed" }).into(),
                job.consumer.to_string(),
                job.meter.to_string(),
                show_time(job.expires_at),
                show_amounts(&job.escrow, raw),
            ]);
        }
        if table.is_empty() {
            println!("no {}jobs on {}", if args.open { "open " } else { "" }, s.target.description);
        } else {
            table.print();
            println!("\n{} job{} holding {}", jobs.len(), if jobs.len() == 1 { "" } else { "s" }, show_tokens(&held, raw));
        }
    });
    Ok(())
}
