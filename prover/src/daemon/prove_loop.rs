//! The proving thread: proves the streams' cut epochs one at a time, in the order
//! they were cut, and logs each proof.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::epoch;
use crate::proving::{EpochProver, GpuGate};

use super::{Shared, refresh};

/// How long a failed proof waits before it is tried again.
const PROVE_RETRY: Duration = Duration::from_secs(30);

/// Proves the queued epochs one at a time, in the order they were cut.
pub(super) fn run(shared: &Shared, prover: &EpochProver, gate: Option<&GpuGate>, queue: mpsc::Receiver<(usize, u64)>) {
    let slots = shared.config.slots as usize;
    let mut retries: VecDeque<(Instant, usize, u64)> = VecDeque::new();
    loop {
        if shared.stopping() {
            return;
        }
        let (index, number) = match retries.front() {
            Some(&(at, index, number)) if at <= Instant::now() => {
                retries.pop_front();
                (index, number)
            }
            _ => match queue.recv_timeout(Duration::from_millis(100)) {
                Ok(next) => next,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) if retries.is_empty() => return,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        let stream = &shared.streams[index];
        let job_id = stream.config.job_id;
        let work = stream.log().and_then(|log| {
            log.epochs()
                .iter()
                .find(|e| e.cut.epoch == number && e.proof.is_none())
                .map(|e| (e.cut.clone(), log.records_of(&e.cut).to_vec()))
        });
        let Some((cut, records)) = work else { continue };
        crate::pause_point::pause_thread("after-cut");
        if let Some(gate) = gate {
            let waited = gate.wait(&|| shared.stopping());
            if waited > Duration::from_secs(1) {
                tracing::info!(job_id, ms = waited.as_millis() as u64, "held the proof back while the GPU was busy");
            }
        }
        shared.status.update(index, |s| s.note = format!("proving epoch {number}"));
        let proved = epoch::witness(&cut, &records, slots)
            .map_err(|e| e.to_string())
            .and_then(|w| prover.prove(&cut, w).map_err(|e| e.to_string()));
        match proved {
            Ok((proof, took)) => {
                crate::pause_point::pause_thread("after-prove");
                let mut log = stream.log().expect("an epoch was cut, so the log exists");
                if let Err(e) = log.append_proof(number, proof) {
                    shared.fail(job_id, format!("cannot log the proof of epoch {number}: {e}"));
                    return;
                }
                shared.metrics.proved(took);
                shared.metrics.epoch(job_id, "proved");
                tracing::info!(job_id, epoch = number, ms = took.as_millis() as u64, "proved");
                shared.status.update(index, |s| {
                    s.last_prove = Some(took);
                    s.prove_total += took;
                    s.note = format!("proved epoch {number}");
                });
                refresh(shared, index, &log);
                stream.proved.notify_one();
            }
            Err(why) => {
                // A passing failure (the GPU out of memory, say) clears up; one that
                // does not keeps saying so, and the epoch waits in the log.
                tracing::error!(job_id, "cannot prove epoch {number}: {why}; retrying in {} s", PROVE_RETRY.as_secs());
                shared.status.update(index, |s| s.note = format!("epoch {number} cannot be proved: {why}"));
                retries.push_back((Instant::now() + PROVE_RETRY, index, number));
            }
        }
    }
}
