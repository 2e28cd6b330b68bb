//! What the demo checks before it escrows anything: that the receipts, the stream
//! logs and the chain belong together and can be read. A fault found only after
//! jobs were opened would leave their escrow locked.

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use zkmeter_circuits::StreamId;
use zkmeter_contracts::{Chain, Deployment};
use zkmeter_prover::epoch::Domain;
use zkmeter_prover::stream_log::StreamLog;
use zkmeter_store::{ChainIdentity, Store};

/// The prover's stream logs in the data directory.
pub fn streams_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("prover").join("streams")
}

/// The chain's identity, as receipts and stream logs record it.
pub fn domain(chain: &mut dyn Chain, d: &Deployment) -> Result<Domain> {
    Ok(Domain { chain_id: d.chain_id, settlement: d.settlement, genesis_id: chain.genesis_id()? })
}

/// The receipt database opens, is readable, and records this chain (or none yet).
pub async fn receipts(data_dir: &Path, domain: Domain) -> Result<()> {
    let store = Store::open_sqlite(&data_dir.join("receipts.db")).await?;
    let identity =
        ChainIdentity { chain_id: domain.chain_id, genesis_id: domain.genesis_id.0, settlement: domain.settlement.0.0 };
    let bound = store.bind_chain(&identity).await;
    store.close().await;
    Ok(bound?)
}

/// No stream log of the retired statement v1 is in the way (the daemon would
/// refuse to start, after the demo escrowed).
pub fn no_retired_logs(data_dir: &Path) -> Result<()> {
    let dir = streams_dir(data_dir);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("job-") && name.ends_with(".log") && !name.ends_with(".v2.log") {
            bail!(
                "{} is a stream log of meter statement v1, whose epochs cannot settle on today's contracts: run the \
                 demo with a new --data-dir (keep this one for its records)",
                entry.path().display()
            );
        }
    }
    Ok(())
}

/// The log of a job the demo resumes opens (nothing damaged) and was written for
/// this chain.
pub fn resumed_log(data_dir: &Path, stream: StreamId, domain: Domain) -> Result<()> {
    let path = streams_dir(data_dir).join(format!("job-{}.v2.log", stream.job_id));
    let Some((log, _)) = StreamLog::open(&path, stream)? else { return Ok(()) };
    if log.header().domain != domain {
        bail!(
            "{} was written for chain {} (genesis {}), not for this one (genesis {}): it belongs to another chain made \
             in this data directory; run the demo with a new --data-dir",
            path.display(),
            log.header().domain.chain_id,
            log.header().domain.genesis_id,
            domain.genesis_id
        );
    }
    Ok(())
}

/// No log waits where job `job_id` would write its own: a log for a job this
/// chain never had is another chain's.
pub fn no_log_for_new_job(data_dir: &Path, job_id: u64) -> Result<()> {
    let path = streams_dir(data_dir).join(format!("job-{job_id}.v2.log"));
    if path.exists() {
        bail!(
            "{} exists, but this chain has no job {job_id} yet: the log is another chain's (the chain was made again \
             in this data directory); nothing was escrowed: run the demo with a new --data-dir",
            path.display()
        );
    }
    Ok(())
}
