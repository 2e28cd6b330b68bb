//! `zkmeter settle PROOF`: settles an epoch's proof file on the chain directly,
//! without the verifier service: the contract verifies the proof, checks the
//! meter's signature over the new state, burns the escrow and pays the provider.
//! Anyone may send it; the proof and the signature are the authority.

use anyhow::{Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use zkmeter_circuits::ProofFile;
use zkmeter_contracts::{Address, sign_state};
use zkmeter_prover::identity::MeterKey;
use zkmeter_verifier::encode_proof;

use crate::chain_access::{Acting, ChainArgs, SenderArgs};
use crate::commands::meter::json_receipt;
use crate::exit::{invalid, not_found};
use crate::output::{OutputArgs, fields, json_amounts};
use crate::units::{show_amounts, show_time_ms, show_tokens};

/// Arguments of `zkmeter settle`.
#[derive(clap::Args)]
pub struct Args {
    /// The proof file (`zkmeter prove`).
    proof: PathBuf,
    /// The meter's signature over the epoch's new state: 0x and 130 hex digits, or
    /// @FILE holding them.
    #[arg(long, required_unless_present = "meter_key", conflicts_with = "meter_key")]
    signature: Option<String>,
    /// Sign the new state now with this meter key file instead.
    #[arg(long)]
    meter_key: Option<PathBuf>,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

fn read_signature(text: &str) -> Result<[u8; 65]> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read the signature file {path}"))?,
        None => text.to_owned(),
    };
    let hex_text = text.trim().trim_start_matches("0x");
    let bytes = hex::decode(hex_text).ok().filter(|b| b.len() == 65);
    bytes.and_then(|b| b.try_into().ok()).ok_or_else(|| {
        invalid("--signature is not a signature: give 0x and 130 hex digits (r, s, v), or @FILE holding them")
    })
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let file = ProofFile::read(&args.proof)?;
    let statement = file.statement;
    let mut s = args.chain.session(data_dir, true)?;
    let job_id = statement.stream.job_id;
    let job = s.job(job_id)?;
    let meter = Address::from(statement.stream.meter);
    if job.meter != meter {
        return Err(not_found(format!(
            "{} proves a stream of meter {meter}, but job {job_id} is served by meter {}: is it a proof for this chain?",
            args.proof.display(),
            job.meter
        )));
    }
    let signature = match (&args.signature, &args.meter_key) {
        (Some(text), _) => read_signature(text)?,
        (None, Some(path)) => {
            let key = MeterKey::load(path)?;
            if key.address() != meter {
                return Err(invalid(format!("{} is the key of meter {}, not of {meter}", path.display(), key.address())));
            }
            sign_state(key.signing_key(), s.chain().chain_id(), s.d.settlement, job_id, &statement.new)
        }
        (None, None) => unreachable!("clap requires one of --signature and --meter-key"),
    };
    let from = s.sender(&args.sender, Acting::Provider)?;
    let d = s.d.clone();
    let settled = d
        .settle(s.chain(), from, file.key.slots, &statement, &encode_proof(&file.proof), &signature)
        .with_context(|| format!("cannot settle {}", args.proof.display()))?;
    let e = settled.epoch;
    let raw = args.out.raw;
    args.out.emit(
        json!({
            "job": job_id,
            "first_seq": e.prev_seq + 1,
            "last_seq": e.state.seq,
            "start_ms": e.prev_end_ms,
            "end_ms": e.state.end_ms,
            "usage": json_amounts(&e.totals.0),
            "burned": json_amounts(&e.burned),
            "minted": json_amounts(&e.minted),
            "unpaid": settled.unpaid.as_ref().map(json_amounts),
            "tx": json_receipt(&settled.receipt),
        }),
        || {
            println!("settled job {job_id}, records {}..={}", e.prev_seq + 1, e.state.seq);
            fields(&[
                ("interval", format!("{} → {}", show_time_ms(e.prev_end_ms), show_time_ms(e.state.end_ms))),
                ("usage", show_amounts(&e.totals.0.map(u128::from), raw)),
                ("burned", show_tokens(&e.burned, raw)),
                ("paid to provider", format!("{} ({})", show_tokens(&e.minted, raw), e.provider)),
                ("tx", format!("{} (block {}, gas {})", settled.receipt.tx_hash, settled.receipt.block_number, settled.receipt.gas_used)),
            ]);
            if let Some(unpaid) = &settled.unpaid {
                println!("the escrow ran short: {} billed but not paid", show_tokens(unpaid, raw));
            }
        },
    );
    Ok(())
}
