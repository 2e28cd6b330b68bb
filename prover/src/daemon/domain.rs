//! Learning the chain and the jobs from the verifier service: the EIP-712 domain
//! the meters sign in, and for each stream its job's meter, capacity and where its
//! stream starts. A stream without a log gets one here; a stream whose
//! configuration or log contradicts the chain is blocked, saying why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::backoff::Backoff;
use crate::client::{ClientError, RemoteStream, VerifierClient};
use crate::epoch::Domain;
use crate::stream_log::{LogHeader, StreamLog};

use super::{Shared, Stream, refresh};

fn domain_file(data_dir: &Path) -> PathBuf {
    data_dir.join("domain.json")
}

/// The domain from the configuration, or the one learned from the verifier on an
/// earlier run (so epochs can be cut while the verifier is down).
fn pinned_or_saved(config: &crate::config::Config) -> Option<Domain> {
    if let (Some(chain_id), Some(settlement), Some(genesis_id)) = (config.chain_id, config.settlement, config.genesis_id) {
        return Some(Domain { chain_id, settlement, genesis_id });
    }
    let text = std::fs::read_to_string(domain_file(&config.data_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Takes the pinned or saved domain at start-up, and blocks every stream whose
/// log was written for another one.
pub(super) fn check_saved(shared: &Shared) {
    let Some(domain) = pinned_or_saved(&shared.config) else { return };
    let _ = shared.domain.set(domain);
    for (index, stream) in shared.streams.iter().enumerate() {
        let logged = stream.log().map(|log| log.header().domain);
        if let Some(logged) = logged.filter(|d| *d != domain) {
            stream.block(shared, index, other_chain(&shared.config, stream, logged, domain));
        }
    }
}

fn other_chain(config: &crate::config::Config, stream: &Stream, logged: Domain, now: Domain) -> String {
    format!(
        "the log {} belongs to chain {} (genesis {}) at settlement {}, but this daemon settles on chain {} (genesis {}) \
         at {}: its epochs can never settle there. If the chain was made again, move the log away (keep it for your \
         records) and meter the new chain's job with a new [[stream]]; a log is never reused for another chain",
        config.stream_log(stream.config.job_id).display(),
        logged.chain_id,
        logged.genesis_id,
        logged.settlement,
        now.chain_id,
        now.genesis_id,
        now.settlement
    )
}

/// Asks the verifier which chain and settlement contract it settles on, then each
/// job's meter, capacity and stream state.
pub(super) async fn learn(shared: Arc<Shared>, mut client: VerifierClient) {
    let mut backoff = Backoff::new(&shared.config);
    let domain = loop {
        match client.domain().await {
            Ok(d) => break d,
            Err(e) => {
                tracing::warn!("cannot learn the settlement domain yet: {e}");
                for (index, stream) in shared.streams.iter().enumerate() {
                    if stream.log().is_none() {
                        shared.status.update(index, |s| s.note = format!("waiting for the verifier service: {e}"));
                    }
                }
                backoff.wait().await;
                if shared.stopping() {
                    return;
                }
            }
        }
    };
    match shared.domain.get() {
        Some(known) if *known != domain => {
            let message = format!(
                "the verifier settles on chain {} (genesis {}) at {}, but this daemon signs for chain {} (genesis {}) at \
                 {}: fix chain_id/settlement/genesis_id (or, if the chain was made again, move {} and the stream logs \
                 of the old chain away)",
                domain.chain_id,
                domain.genesis_id,
                domain.settlement,
                known.chain_id,
                known.genesis_id,
                known.settlement,
                domain_file(&shared.config.data_dir).display()
            );
            for (index, stream) in shared.streams.iter().enumerate() {
                stream.block(&shared, index, message.clone());
            }
            return;
        }
        Some(_) => {}
        None => {
            if let Err(e) = save(&shared.config.data_dir, domain) {
                tracing::warn!("cannot save the settlement domain: {e}");
            }
            let _ = shared.domain.set(domain);
        }
    }
    for (index, stream) in shared.streams.iter().enumerate() {
        let job_id = stream.config.job_id;
        let mut backoff = Backoff::new(&shared.config);
        let remote = loop {
            match client.stream(job_id).await {
                Ok(r) => break Some(r),
                Err(ClientError::Refused { message, .. }) => {
                    stream.block(&shared, index, message);
                    break None;
                }
                Err(e) => {
                    tracing::warn!(job_id, "cannot read the job yet: {e}");
                    backoff.wait().await;
                    if shared.stopping() {
                        return;
                    }
                }
            }
        };
        if let Some(remote) = remote {
            adopt(&shared, index, stream, domain, &remote);
        }
    }
}

/// Checks a stream against its job on the chain, and starts its log if it has none.
fn adopt(shared: &Shared, index: usize, stream: &Stream, domain: Domain, remote: &RemoteStream) {
    let job_id = stream.config.job_id;
    if remote.meter != stream.key.address() {
        let why = format!(
            "job {job_id} is served by meter {}, but key_file {} is meter {}",
            remote.meter,
            stream.config.key_file.display(),
            stream.key.address()
        );
        return stream.block(shared, index, why);
    }
    if let Some(configured) = stream.config.capacity.filter(|c| *c != remote.capacity) {
        let why = format!(
            "job {job_id} was opened with capacity {:?} (per ms: gpu, cpu, storage, network, energy), but the config says \
             {:?}: remove `capacity` (the job's is used) or set it to the job's",
            remote.capacity.0, configured.0
        );
        return stream.block(shared, index, why);
    }
    if let Some(log) = stream.log() {
        let header = log.header();
        if header.domain != domain {
            let why = other_chain(&shared.config, stream, header.domain, domain);
            drop(log);
            return stream.block(shared, index, why);
        }
        if header.capacity != remote.capacity {
            let why = format!(
                "the log {} was started for a job of capacity {:?}, but job {job_id} has {:?}: it is another job; move \
                 the log away",
                shared.config.stream_log(job_id).display(),
                header.capacity.0,
                remote.capacity.0
            );
            drop(log);
            return stream.block(shared, index, why);
        }
        return;
    }
    if !remote.open {
        let why = format!("job {job_id} is closed on the chain: there is nothing left to meter for it; remove its [[stream]]");
        stream.metering_done.store(true, std::sync::atomic::Ordering::SeqCst);
        shared.status.update(index, |s| s.metering_done = true);
        return stream.block(shared, index, why);
    }
    if remote.latest.seq > 0 {
        tracing::warn!(
            job_id,
            seq = remote.latest.seq,
            "the stream has no log here but the verifier knows it up to seq {}: starting a new log from there (records \
             logged before and never submitted are lost, none is billed twice)",
            remote.latest.seq
        );
    }
    let header = LogHeader { stream: stream.id, domain, start: remote.latest, capacity: remote.capacity };
    match StreamLog::create(&shared.config.stream_log(job_id), header) {
        Ok(log) => {
            refresh(shared, index, &log);
            let _ = stream.log.set(Mutex::new(log));
            tracing::info!(job_id, start_ms = remote.latest.end_ms, "stream log started at the job's stream state");
        }
        Err(e) => shared.fail(job_id, format!("cannot start the stream log: {e}")),
    }
}

/// Saves the learned domain: written whole and synced, then renamed in.
fn save(data_dir: &Path, domain: Domain) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let path = domain_file(data_dir);
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_string(&domain).expect("a domain serializes");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(data_dir)?.sync_all()
}
