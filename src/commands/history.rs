//! `zkmeter history`: every settled epoch and piece of work, read from the
//! chain's events, with each job's totals: what it escrowed, used, was billed
//! (burned), what the provider got (minted), the protocol fee (burned less
//! minted) and what went back to the consumer. Logs are read in pages of
//! `--page-blocks` blocks, smaller where the node refuses a page as too large.
//! `--follow` keeps watching and prints each entry as it settles.

use anyhow::Result;
use serde_json::{Value, json};
use std::path::Path;
use zkmeter_circuits::ResourceClass;
use zkmeter_contracts::{Entry, HistoryQuery, JobTotals, U256};

use crate::chain_access::{ChainArgs, parse_address};
use crate::output::{OutputArgs, Table, json_amounts};
use crate::units::{now_s, parse_duration_ms, parse_time, show_amounts, show_time, show_time_ms, show_tokens};

/// How to print the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables in human units.
    Table,
    /// One JSON document, amounts in base units.
    Json,
    /// Comma-separated values, one line per epoch, work and job total, base units.
    Csv,
}

/// Arguments of `zkmeter history`.
#[derive(clap::Args)]
pub struct Args {
    /// Only this job.
    #[arg(long, conflicts_with_all = ["provider", "consumer"])]
    job: Option<u64>,
    /// Only this provider's jobs.
    #[arg(long)]
    provider: Option<String>,
    /// Only this consumer's jobs.
    #[arg(long)]
    consumer: Option<String>,
    /// Only what settled since then: a span ago (2h ago), a UTC date or time, @UNIX_SECONDS.
    #[arg(long)]
    since: Option<String>,
    /// Output format (--json is short for --format json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The first block to read (e.g. the deployment's, on a long chain).
    #[arg(long, default_value_t = 0)]
    from_block: u64,
    /// Blocks per log query; halved where the node refuses a page as too large.
    #[arg(long, default_value_t = zkmeter_contracts::history::DEFAULT_PAGE_BLOCKS)]
    page_blocks: u64,
    /// Keep watching: print each epoch and piece of work as it settles (one line
    /// each; JSON lines with --json), until Ctrl-C, the job closes (with --job) or
    /// --until-epochs.
    #[arg(long)]
    follow: bool,
    /// With --follow: stop once this many epochs have been shown.
    #[arg(long, requires = "follow")]
    until_epochs: Option<u64>,
    /// With --follow: how often to look, e.g. 2s, 500ms.
    #[arg(long, default_value = "2s", requires = "follow")]
    poll: String,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let query = HistoryQuery {
        job: args.job,
        provider: args.provider.as_deref().map(parse_address).transpose()?,
        consumer: args.consumer.as_deref().map(parse_address).transpose()?,
        since: args.since.as_deref().map(|t| parse_time(t, now_s())).transpose()?,
        from_block: args.from_block,
        page_blocks: args.page_blocks,
    };
    let mut s = args.chain.session(data_dir, false)?;
    if let Some(job) = args.job {
        // An unknown job is "not found", not an empty history.
        s.job(job)?;
    }
    let format = if args.out.json { Format::Json } else { args.format };
    if args.follow {
        drop(s);
        return follow(data_dir, &args, &query, format);
    }
    let d = s.d.clone();
    let history = d.history(s.chain(), &query)?;
    let raw = args.out.raw;
    match format {
        Format::Json => {
            let json = json!({
                "blocks": { "from": history.blocks.0, "to": history.blocks.1 },
                "log_queries": history.queries,
                "entries": history.entries.iter().map(entry_json).collect::<Vec<_>>(),
                "jobs": history.jobs.values().map(totals_json).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&json).expect("JSON values serialize"));
        }
        Format::Csv => print_csv(&history.entries, history.jobs.values()),
        Format::Table => {
            if history.entries.is_empty() {
                println!(
                    "nothing settled{} in blocks {}..={} of {}",
                    args.job.map_or(String::new(), |j| format!(" for job {j}")),
                    history.blocks.0,
                    history.blocks.1,
                    s.target.description
                );
            } else {
                let mut table = Table::new(&["job", "records", "interval (UTC)", "usage", "burned", "fee", "settled (UTC)", "tx"]);
                for entry in &history.entries {
                    table.row(entry_row(entry, raw));
                }
                table.print();
            }
            if !history.jobs.is_empty() {
                println!();
                let mut table =
                    Table::new(&[">job", ">epochs", ">records", "usage", "escrowed", "burned", "fee", "refunded", "state"]);
                for t in history.jobs.values() {
                    let mut usage = show_amounts(&t.usage.map(u128::from), raw);
                    if t.works > 0 {
                        usage = format!("{usage}; {} MAC of work", t.work_units);
                    }
                    table.row(vec![
                        t.job_id.to_string(),
                        t.epochs.to_string(),
                        t.records.to_string(),
                        usage,
                        show_tokens(&t.escrowed, raw),
                        show_tokens(&t.burned, raw) + &work_part(t.work_burned),
                        show_tokens(&t.fee(), raw) + &work_part(t.work_burned - t.work_minted),
                        show_tokens(&t.refunded, raw),
                        (if t.closed { "closed" } else { "open" }).into(),
                    ]);
                }
                table.print();
            }
        }
    }
    Ok(())
}

/// Prints entries as they settle. The chain is opened afresh for each look, so
/// that the embedded chain, which another process (the verifier service)
/// writes, is seen as it is now.
fn follow(data_dir: &Path, args: &Args, query: &HistoryQuery, format: Format) -> Result<()> {
    let poll = std::time::Duration::from_millis(parse_duration_ms(&args.poll)?);
    let mut shown = 0;
    let mut epochs = 0;
    if format == Format::Csv {
        print_csv(&[], std::iter::empty());
    }
    loop {
        let mut s = args.chain.session(data_dir, false)?;
        let d = s.d.clone();
        let history = d.history(s.chain(), query)?;
        for entry in history.entries.iter().skip(shown) {
            match format {
                Format::Json => println!("{}", entry_json(entry)),
                Format::Csv => print_csv_rows(std::slice::from_ref(entry), std::iter::empty()),
                Format::Table => println!("{}", entry_row(entry, args.out.raw).join("  ")),
            }
            epochs += u64::from(matches!(entry, Entry::Epoch(_)));
            shown += 1;
            if args.until_epochs.is_some_and(|n| epochs >= n) {
                return Ok(());
            }
        }
        if let Some(job) = args.job
            && !s.job(job)?.open
        {
            return Ok(());
        }
        drop(s);
        std::thread::sleep(poll);
    }
}

/// Work is paid in the work tariff's class, which its event does not name.
fn work_part(amount: U256) -> String {
    if amount.is_zero() { String::new() } else { format!(" + {amount} work-class base units") }
}

fn short_hash(hash: &str) -> String {
    format!("{}…{}", &hash[..10], &hash[hash.len() - 4..])
}

fn entry_row(entry: &Entry, raw: bool) -> Vec<String> {
    let at = entry.at();
    let settled = show_time(at.block_timestamp);
    let tx = short_hash(&at.tx_hash.to_string());
    match entry {
        Entry::Epoch(e) => {
            let ep = &e.epoch;
            let end = show_time_ms(ep.state.end_ms);
            vec![
                ep.job_id.to_string(),
                format!("{}-{}", ep.prev_seq + 1, ep.state.seq),
                format!("{} → {}", show_time_ms(ep.prev_end_ms), end.split_once(' ').map_or(end.as_str(), |(_, t)| t)),
                show_amounts(&ep.totals.0.map(u128::from), raw),
                show_tokens(&ep.burned, raw),
                show_tokens(&e.fee(), raw),
                settled,
                tx,
            ]
        }
        Entry::Work(w) => vec![
            w.job_id.to_string(),
            "work".into(),
            String::new(),
            format!("{} MAC", w.work_units),
            format!("{} work-class base units", w.burned),
            format!("{}", w.burned - w.minted),
            settled,
            tx,
        ],
    }
}

fn at_json(entry: &Entry) -> Value {
    let at = entry.at();
    json!({ "block": at.block_number, "block_time": at.block_timestamp, "tx_hash": at.tx_hash.to_string() })
}

fn entry_json(entry: &Entry) -> Value {
    match entry {
        Entry::Epoch(e) => {
            let ep = &e.epoch;
            json!({
                "kind": "epoch",
                "job": ep.job_id,
                "consumer": e.consumer.to_string(),
                "provider": ep.provider.to_string(),
                "first_seq": ep.prev_seq + 1,
                "last_seq": ep.state.seq,
                "start_ms": ep.prev_end_ms,
                "end_ms": ep.state.end_ms,
                "usage": json_amounts(&ep.totals.0),
                "burned": json_amounts(&ep.burned),
                "minted": json_amounts(&ep.minted),
                "fee": json_amounts(&e.fee()),
                "settled": at_json(entry),
            })
        }
        Entry::Work(w) => json!({
            "kind": "work",
            "job": w.job_id,
            "consumer": w.consumer.to_string(),
            "provider": w.provider.to_string(),
            "circuit_id": w.circuit_id.to_string(),
            "model": zkmeter_circuits::field_hex::to_hex(&w.model),
            "input": zkmeter_circuits::field_hex::to_hex(&w.input),
            "output": zkmeter_circuits::field_hex::to_hex(&w.output),
            "work_units": w.work_units,
            "burned": w.burned.to_string(),
            "minted": w.minted.to_string(),
            "fee": (w.burned - w.minted).to_string(),
            "settled": at_json(entry),
        }),
    }
}

fn totals_json(t: &JobTotals) -> Value {
    json!({
        "job": t.job_id,
        "consumer": t.consumer.to_string(),
        "provider": t.provider.to_string(),
        "closed": t.closed,
        "epochs": t.epochs,
        "records": t.records,
        "usage": json_amounts(&t.usage),
        "escrowed": json_amounts(&t.escrowed),
        "burned": json_amounts(&t.burned),
        "minted": json_amounts(&t.minted),
        "fee": json_amounts(&t.fee()),
        "refunded": json_amounts(&t.refunded),
        "works": t.works,
        "work_units": t.work_units,
        "work_burned": t.work_burned.to_string(),
        "work_minted": t.work_minted.to_string(),
    })
}

/// The header and a line per entry and per job total.
fn print_csv<'a>(entries: &[Entry], totals: impl Iterator<Item = &'a JobTotals>) {
    let per_class = |prefix: &str| ResourceClass::ALL.iter().map(|c| format!("{prefix}_{c}")).collect::<Vec<_>>().join(",");
    println!(
        "kind,job,first_seq,last_seq,start_ms,end_ms,{},{},{},{},work_units,work_burned,work_minted,block,block_time,tx_hash",
        per_class("usage"),
        per_class("burned"),
        per_class("minted"),
        per_class("fee")
    );
    print_csv_rows(entries, totals);
}

fn print_csv_rows<'a>(entries: &[Entry], totals: impl Iterator<Item = &'a JobTotals>) {
    let join = |values: &[String]| values.join(",");
    let five = |v: [String; ResourceClass::COUNT]| v.join(",");
    let zeros = || five(std::array::from_fn(|_| "0".to_owned()));
    for entry in entries {
        let at = entry.at();
        let tail = format!("{},{},{}", at.block_number, at.block_timestamp, at.tx_hash);
        let line = match entry {
            Entry::Epoch(e) => {
                let ep = &e.epoch;
                join(&[
                    "epoch".into(),
                    ep.job_id.to_string(),
                    (ep.prev_seq + 1).to_string(),
                    ep.state.seq.to_string(),
                    ep.prev_end_ms.to_string(),
                    ep.state.end_ms.to_string(),
                    five(ep.totals.0.map(|v| v.to_string())),
                    five(ep.burned.map(|v| v.to_string())),
                    five(ep.minted.map(|v| v.to_string())),
                    five(e.fee().map(|v| v.to_string())),
                    "0,0,0".into(),
                    tail,
                ])
            }
            Entry::Work(w) => join(&[
                "work".into(),
                w.job_id.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                zeros(),
                zeros(),
                zeros(),
                zeros(),
                format!("{},{},{}", w.work_units, w.burned, w.minted),
                tail,
            ]),
        };
        println!("{line}");
    }
    for t in totals {
        println!(
            "{}",
            join(&[
                "total".into(),
                t.job_id.to_string(),
                String::new(),
                t.records.to_string(),
                String::new(),
                String::new(),
                five(t.usage.map(|v| v.to_string())),
                five(t.burned.map(|v| v.to_string())),
                five(t.minted.map(|v| v.to_string())),
                five(t.fee().map(|v| v.to_string())),
                format!("{},{},{}", t.work_units, t.work_burned, t.work_minted),
                ",,".into(),
            ])
        );
    }
}
