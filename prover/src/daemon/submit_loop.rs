//! A stream's submission task: submits its proved epochs in order to the verifier
//! service, polls their receipts, and logs each epoch settled once its receipt says so.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::client::{ClientError, ReceiptState, VerifierClient};
use crate::stream_log::Settlement;

use super::{Shared, refresh};

/// Submits a stream's proved epochs in order and polls their receipts until
/// each is settled.
pub(super) async fn run(shared: Arc<Shared>, index: usize, mut client: VerifierClient) {
    let stream = shared.streams[index].clone();
    let job_id = stream.config.job_id;
    let poll = Duration::from_millis(shared.config.submit.poll_ms);
    let mut backoff = Backoff::new(&shared.config);
    let mut receipts: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    loop {
        match step(&shared, index, &mut client, &mut receipts).await {
            Ok(true) => backoff.reset(),
            Ok(false) => {
                backoff.reset();
                let _ = tokio::time::timeout(poll, stream.proved.notified()).await;
            }
            Err(ClientError::Refused { code, message }) => {
                shared.metrics.submission("refused");
                match resync(&shared, index, &mut client).await {
                    Ok(true) => {
                        receipts.clear();
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(job_id, "cannot read the job's state: {e}"),
                }
                tracing::error!(job_id, ?code, "the verifier refused an epoch: {message}; retrying");
                shared.status.update(index, |s| s.note = format!("refused: {message}"));
                receipts.clear();
                backoff.wait().await;
            }
            Err(e) => {
                shared.metrics.submission("unavailable");
                tracing::warn!(job_id, "{e}");
                shared.status.update(index, |s| s.note = "verifier unavailable, retrying".into());
                backoff.wait().await;
            }
        }
        if shared.stopping() {
            return;
        }
    }
}

/// One round: submit every proved epoch the service has not acknowledged in this
/// run (in order, stopping at the first not proved), then poll the oldest
/// receipts. Returns whether anything moved.
async fn step(
    shared: &Shared,
    index: usize,
    client: &mut VerifierClient,
    receipts: &mut BTreeMap<u64, Vec<u8>>,
) -> Result<bool, ClientError> {
    let stream = &shared.streams[index];
    let Some(pending) = stream.log().map(|log| log.unsettled().map(|e| (e.cut.clone(), e.proof.clone())).collect::<Vec<_>>())
    else {
        return Ok(false);
    };
    let mut moved = false;
    for (cut, proof) in &pending {
        let Some(proof) = proof else { break };
        if receipts.contains_key(&cut.epoch) {
            continue;
        }
        let (id, _) = client.submit(cut, proof).await?;
        shared.metrics.submission("accepted");
        shared.status.update(index, |s| s.note = format!("epoch {} accepted, settling", cut.epoch));
        receipts.insert(cut.epoch, id);
        moved = true;
    }
    if moved {
        crate::pause_point::pause_task("after-submit").await;
    }
    for (cut, _) in &pending {
        let Some(id) = receipts.get(&cut.epoch) else { break };
        match client.receipt(id).await? {
            ReceiptState::Settled { tx_hash, gas } => {
                let mut log = stream.log().expect("an epoch was cut, so the log exists");
                let settlement = Settlement { epoch: cut.epoch, receipt: id.clone(), tx_hash, gas };
                if let Err(e) = log.append_settled(settlement) {
                    shared.fail(stream.config.job_id, format!("cannot log the settlement of epoch {}: {e}", cut.epoch));
                    break;
                }
                shared.metrics.epoch(stream.config.job_id, "settled");
                shared.status.update(index, |s| {
                    s.gas += gas;
                    s.note = format!("epoch {} settled", cut.epoch);
                });
                refresh(shared, index, &log);
                receipts.remove(&cut.epoch);
                moved = true;
            }
            ReceiptState::Pending(_) => break,
            ReceiptState::Rejected(reason) => {
                return Err(ClientError::Refused { code: tonic::Code::FailedPrecondition, message: format!("receipt rejected: {reason}") });
            }
        }
    }
    Ok(moved)
}

/// After a refusal: if the chain has settled the stream up to one of our
/// unsettled epochs (its receipt was lost with a verifier's database, say), marks
/// it and the ones before it settled. Returns whether it did.
async fn resync(shared: &Shared, index: usize, client: &mut VerifierClient) -> Result<bool, ClientError> {
    let stream = &shared.streams[index];
    let remote = client.stream(stream.config.job_id).await?;
    let Some(mut log) = stream.log() else { return Ok(false) };
    let upto: Vec<u64> = {
        let unsettled: Vec<_> = log.unsettled().collect();
        match unsettled.iter().position(|e| e.cut.statement.new == remote.settled) {
            Some(i) => unsettled[..=i].iter().map(|e| e.cut.epoch).collect(),
            None => return Ok(false),
        }
    };
    for epoch in upto {
        tracing::info!(job_id = stream.config.job_id, epoch, "the chain has settled this epoch already");
        if let Err(e) = log.append_settled(Settlement { epoch, receipt: Vec::new(), tx_hash: Vec::new(), gas: 0 }) {
            shared.fail(stream.config.job_id, format!("cannot log the settlement of epoch {epoch}: {e}"));
            return Ok(false);
        }
        shared.metrics.epoch(stream.config.job_id, "settled");
    }
    refresh(shared, index, &log);
    Ok(true)
}
