//! The gRPC service: converts messages, runs the pipeline, maps errors to status
//! codes. The logic lives in [`crate::submission`], [`crate::work_submission`],
//! [`crate::batcher`] and the store.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use zkmeter_circuits::KeyOrigin;
use zkmeter_contracts::{Address, B256};
use zkmeter_store::{Accepted, ReceiptFilter, Store, StoreError};
use zkmeter_verifier::encode_verifying_key;

use crate::backlog::Backlog;
use crate::batcher::Batcher;
use crate::chain_worker::ChainWorker;
use crate::job_cache::JobCache;
use crate::convert::{fixed, receipt_message, state_message, status_filter, work_receipt_message};
use crate::metrics::Metrics;
use crate::peer_budget::PeerBudget;
use crate::receipt_writer::ReceiptWriter;
use crate::proto::{self, verifier_service_server::VerifierService};
use crate::settler::SettleSignal;
use crate::submission::{self, Circuit, Circuits, Outcome, SubmitError};
use crate::work_submission::{WorkError, WorkPipeline};

/// Most submissions one SubmitProofs call may carry.
pub const MAX_SUBMISSIONS_PER_CALL: usize = 1024;

/// The one-line description of each public input, for GetCircuit.
const PUBLIC_INPUT_LAYOUT: [&str; zkmeter_circuits::PUBLIC_INPUTS] = [
    "x0: head of the stream's hash chain before the epoch",
    "x1: head after the epoch",
    "x2: prev.seq | prev.end_ms << 64 | next.end_ms << 128 | record_count << 192",
    "x3: totals: gpu (44 bits) | cpu << 44 (44) | storage << 88 (64) | network << 152 (52) | energy << 204 (48)",
    "x4: the job's capacities per ms, 48 bits per class: gpu | cpu << 48 | storage << 96 | network << 144 | energy << 192",
];

/// The same for a workload circuit.
const WORK_PUBLIC_INPUT_LAYOUT: [&str; zkmeter_circuits::workload::WORKLOAD_PUBLIC_INPUTS] = [
    "x0: model commitment",
    "x1: input commitment",
    "x2: output commitment",
    "x3: job_id | work_units << 64",
];

/// Everything the RPCs share.
#[derive(Clone)]
pub struct Verifier {
    /// The circuits verified.
    pub circuits: Circuits,
    /// The chain (reads; settlement goes through the settler).
    pub chain: ChainWorker,
    /// The jobs as the chain last said.
    pub jobs: JobCache,
    /// The receipts.
    pub store: Store,
    /// Writes verified receipts, a group per transaction.
    pub receipts: ReceiptWriter,
    /// The batch verifier.
    pub batcher: Batcher,
    /// Wakes the settler.
    pub settle: SettleSignal,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Workload submissions.
    pub work: WorkPipeline,
    /// Each peer's budget of invalid proofs.
    pub budget: Arc<PeerBudget>,
    /// Receipts waiting for settlement, against their bound.
    pub backlog: Arc<Backlog>,
}

fn status(e: SubmitError) -> Status {
    let message = e.to_string();
    match e {
        SubmitError::Malformed(_) | SubmitError::BadProof(_) | SubmitError::BadStatement(_) | SubmitError::InvalidProof => {
            Status::invalid_argument(message)
        }
        SubmitError::BadSignature => Status::permission_denied(message),
        SubmitError::UnknownCircuit(_) | SubmitError::UnknownStream(_) => Status::not_found(message),
        SubmitError::WrongMeter { .. } | SubmitError::WrongState { .. } | SubmitError::JobClosed(_) => {
            Status::failed_precondition(message)
        }
        SubmitError::Conflict { .. } => Status::already_exists(message),
        SubmitError::OverBudget(_) | SubmitError::Backlogged(_) => Status::resource_exhausted(message),
        SubmitError::Store(StoreError::Unavailable { .. }) | SubmitError::Chain(_) => Status::unavailable(message),
        SubmitError::Store(_) => Status::internal(message),
    }
}

fn outcome_label(e: &SubmitError) -> &'static str {
    match e {
        SubmitError::Malformed(_) | SubmitError::BadStatement(_) => "malformed",
        SubmitError::BadProof(_) => "bad_proof_encoding",
        SubmitError::InvalidProof => "invalid_proof",
        SubmitError::BadSignature => "bad_signature",
        SubmitError::UnknownCircuit(_) => "unknown_circuit",
        SubmitError::UnknownStream(_) | SubmitError::WrongMeter { .. } => "unknown_stream",
        SubmitError::JobClosed(_) => "job_closed",
        SubmitError::WrongState { .. } => "wrong_state",
        SubmitError::Conflict { .. } => "conflict",
        SubmitError::OverBudget(_) => "over_budget",
        SubmitError::Backlogged(_) => "backlogged",
        SubmitError::Store(_) | SubmitError::Chain(_) => "unavailable",
    }
}

fn work_error_status(e: WorkError) -> Status {
    let message = e.to_string();
    match e {
        WorkError::Malformed(_) | WorkError::BadProof(_) | WorkError::WrongWorkUnits { .. } | WorkError::InvalidProof => {
            Status::invalid_argument(message)
        }
        WorkError::UnknownCircuit(_) | WorkError::UnknownJob(_) => Status::not_found(message),
        WorkError::JobClosed(_) | WorkError::NotRequested { .. } => Status::failed_precondition(message),
        WorkError::SettledElsewhere { .. } | WorkError::Conflict(_) => Status::already_exists(message),
        WorkError::Store(StoreError::Unavailable { .. }) | WorkError::Chain(_) => Status::unavailable(message),
        WorkError::Store(_) => Status::internal(message),
    }
}

impl Verifier {
    /// The whole pipeline for one submission from `peer`: checks, batched
    /// verification (within the peer's budget of invalid proofs and the bound on
    /// receipts waiting for settlement), the receipt
    /// written verified and durable (in a group commit), and a ring of the
    /// settler's bell.
    pub async fn submit(
        &self,
        req: &proto::SubmitProofRequest,
        peer: Option<IpAddr>,
    ) -> Result<proto::SubmitProofResponse, SubmitError> {
        let checked = match submission::check(req, &self.circuits, &self.chain, &self.jobs, &self.store).await? {
            Outcome::Known(receipt) => {
                return Ok(proto::SubmitProofResponse { receipt: Some(receipt_message(&receipt)), created: false });
            }
            Outcome::Checked(c) => c,
        };
        self.backlog.check()?;
        self.budget.check(peer)?;
        let inputs = checked.public_inputs().to_vec();
        let valid = self
            .batcher
            .verify(checked.circuit.clone(), checked.proof.clone(), inputs)
            .await
            .map_err(|e| SubmitError::Chain(e.to_string()))?;
        if !valid {
            self.budget.charge(peer);
            return Err(SubmitError::InvalidProof);
        }
        let job = checked.receipt.job_id;
        let seq = checked.receipt.prev.seq;
        let (receipt, created) = match self.receipts.accept(checked.receipt).await {
            Ok(Accepted::New(r)) => (r, true),
            Ok(Accepted::Existing(r)) => (r, false),
            Err(StoreError::Conflict { existing, .. }) => {
                return Err(SubmitError::Conflict { job, seq, existing: hex::encode(existing) });
            }
            Err(e) => return Err(e.into()),
        };
        if created {
            self.backlog.recorded();
            self.settle.ring();
        }
        crate::pause_point::pause_point("after-record").await;
        Ok(proto::SubmitProofResponse { receipt: Some(receipt_message(&receipt)), created })
    }

    async fn submit_counted(
        &self,
        req: &proto::SubmitProofRequest,
        peer: Option<IpAddr>,
    ) -> Result<proto::SubmitProofResponse, SubmitError> {
        let result = self.submit(req, peer).await;
        match &result {
            Ok(r) if r.created => self.metrics.submission("verified"),
            Ok(_) => self.metrics.submission("duplicate"),
            Err(e) => self.metrics.submission(outcome_label(e)),
        }
        if let Err(e) = &result {
            tracing::debug!(error = %e, "submission refused");
        }
        result
    }
}

type ReceiptStream = Pin<Box<dyn Stream<Item = Result<proto::ListReceiptsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl VerifierService for Verifier {
    async fn submit_proof(
        &self,
        request: Request<proto::SubmitProofRequest>,
    ) -> Result<Response<proto::SubmitProofResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip());
        self.submit_counted(request.get_ref(), peer).await.map(Response::new).map_err(status)
    }

    async fn submit_proofs(
        &self,
        request: Request<proto::SubmitProofsRequest>,
    ) -> Result<Response<proto::SubmitProofsResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip());
        let submissions = request.into_inner().submissions;
        if submissions.len() > MAX_SUBMISSIONS_PER_CALL {
            return Err(Status::invalid_argument(format!(
                "{} submissions in one call; send at most {MAX_SUBMISSIONS_PER_CALL} per call",
                submissions.len()
            )));
        }
        // Concurrently, so that they reach the batcher together.
        let results = futures_util::future::join_all(submissions.iter().map(|s| self.submit_counted(s, peer))).await;
        let results = results
            .into_iter()
            .map(|r| match r {
                Ok(response) => proto::SubmitProofsResult { response: Some(response), ..Default::default() },
                Err(e) => {
                    let s = status(e);
                    proto::SubmitProofsResult {
                        response: None,
                        error_code: s.code() as i32,
                        error_message: s.message().to_owned(),
                    }
                }
            })
            .collect();
        Ok(Response::new(proto::SubmitProofsResponse { results }))
    }

    async fn get_receipt(
        &self,
        request: Request<proto::GetReceiptRequest>,
    ) -> Result<Response<proto::GetReceiptResponse>, Status> {
        let id: [u8; 32] = fixed("id", &request.get_ref().id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        match self.store.get(&id).await.map_err(|e| status(e.into()))? {
            Some(r) => Ok(Response::new(proto::GetReceiptResponse { receipt: Some(receipt_message(&r)) })),
            None => Err(Status::not_found(format!("no receipt {}", hex::encode(id)))),
        }
    }

    type ListReceiptsStream = ReceiptStream;

    async fn list_receipts(
        &self,
        request: Request<proto::ListReceiptsRequest>,
    ) -> Result<Response<Self::ListReceiptsStream>, Status> {
        let req = request.into_inner();
        let meter = if req.meter.is_empty() {
            None
        } else {
            Some(fixed::<20>("meter", &req.meter).map_err(|e| Status::invalid_argument(e.to_string()))?)
        };
        let status_wanted = proto::ReceiptStatus::try_from(req.status)
            .map_err(|_| Status::invalid_argument(format!("status: {} is not a receipt status", req.status)))?;
        let mut filter = ReceiptFilter {
            job_id: (req.job_id != 0).then_some(req.job_id),
            meter,
            status: status_filter(status_wanted),
            from_ms: (req.from_ms != 0).then_some(req.from_ms),
            to_ms: (req.to_ms != 0).then_some(req.to_ms),
            limit: 256,
            ..ReceiptFilter::default()
        };
        let mut left = if req.limit == 0 { u64::MAX } else { u64::from(req.limit) };
        let store = self.store.clone();
        let (send, receive) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            while left > 0 {
                filter.limit = left.min(256) as u32;
                let page = match store.list(&filter).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = send.send(Err(status(e.into()))).await;
                        return;
                    }
                };
                let Some(last) = page.last() else { return };
                filter.after = Some((last.created_at_ms, last.id));
                let full = page.len() as u32 == filter.limit;
                for r in page {
                    left -= 1;
                    if send.send(Ok(proto::ListReceiptsResponse { receipt: Some(receipt_message(&r)) })).await.is_err() {
                        return;
                    }
                }
                if !full {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receive))))
    }

    async fn get_circuit(
        &self,
        request: Request<proto::GetCircuitRequest>,
    ) -> Result<Response<proto::GetCircuitResponse>, Status> {
        let id = &request.get_ref().circuit_id;
        let not_found = || Status::not_found("no such circuit: GetCircuit with an empty id names the default");
        let deployment = self.chain.deployment();
        // A meter circuit, or a workload circuit: its verifier contract and layout.
        let (circuit, verifier_contract, layout): (&Arc<Circuit>, Vec<u8>, &[&str]) = if id.is_empty() {
            let c = self.circuits.0.values().next().ok_or_else(not_found)?;
            (c, meter_verifier(deployment, &c.id), &PUBLIC_INPUT_LAYOUT)
        } else {
            let id = B256::from(fixed::<32>("circuit_id", id).map_err(|e| Status::invalid_argument(e.to_string()))?);
            match (self.circuits.get(&id), self.work.circuits.get(&id)) {
                (Some(c), _) => (c, meter_verifier(deployment, &c.id), &PUBLIC_INPUT_LAYOUT),
                (None, Some(w)) => (&w.circuit, w.verifier_contract.to_vec(), &WORK_PUBLIC_INPUT_LAYOUT),
                (None, None) => return Err(not_found()),
            }
        };
        let vk = encode_verifying_key(circuit.verifier.verifying_key());
        let work_circuits = self
            .work
            .circuits
            .0
            .values()
            .map(|w| proto::WorkCircuit {
                circuit_id: w.circuit.id.to_vec(),
                name: w.circuit.header.circuit.clone(),
                verifier_contract: w.verifier_contract.to_vec(),
            })
            .collect();
        Ok(Response::new(proto::GetCircuitResponse {
            circuit_id: circuit.id.to_vec(),
            name: circuit.header.circuit.clone(),
            slots: circuit.header.slots,
            key_digest: circuit.header.digest.to_vec(),
            verifying_key: vk.to_words().concat(),
            public_inputs: layout.iter().map(|s| (*s).to_owned()).collect(),
            verifier_contract,
            chain_id: self.chain.chain_id(),
            settlement_contract: deployment.settlement.to_vec(),
            genesis_id: deployment.genesis_id.to_vec(),
            work_circuits,
            key_origin: circuit.origin.kind().to_owned(),
            ceremony_transcript: match &circuit.origin {
                KeyOrigin::Ceremony { transcript } => transcript.to_vec(),
                KeyOrigin::Development => Vec::new(),
            },
        }))
    }

    async fn get_stream_state(
        &self,
        request: Request<proto::GetStreamStateRequest>,
    ) -> Result<Response<proto::GetStreamStateResponse>, Status> {
        let job_id = request.get_ref().job_id;
        let view = self.jobs.get_fresh(job_id).await.map_err(|e| Status::unavailable(e.to_string()))?;
        let job = view.job;
        if job.consumer == Address::ZERO {
            return Err(status(SubmitError::UnknownStream(job_id)));
        }
        let latest = submission::latest_state(&self.store, self.chain.chain_id(), job_id, job.state)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::GetStreamStateResponse {
            job_id,
            meter: job.meter.to_vec(),
            settled: Some(state_message(&job.state)),
            latest: Some(state_message(&latest)),
            capacity: job.capacity.0.to_vec(),
            open: job.open,
        }))
    }

    async fn submit_work(
        &self,
        request: Request<proto::SubmitWorkRequest>,
    ) -> Result<Response<proto::SubmitWorkResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip());
        if let Err(over) = self.budget.check(peer) {
            self.metrics.work_submission("over_budget");
            return Err(Status::resource_exhausted(over.to_string()));
        }
        let result = self.work.submit(request.get_ref()).await;
        if matches!(result, Err(WorkError::InvalidProof)) {
            self.budget.charge(peer);
        }
        match &result {
            Ok((_, true)) => self.metrics.work_submission("verified"),
            Ok(_) => self.metrics.work_submission("duplicate"),
            Err(e) => {
                self.metrics.work_submission(e.label());
                tracing::debug!(error = %e, "workload submission refused");
            }
        }
        let (receipt, created) = result.map_err(work_error_status)?;
        Ok(Response::new(proto::SubmitWorkResponse { receipt: Some(work_receipt_message(&receipt)), created }))
    }

    async fn get_work_receipt(
        &self,
        request: Request<proto::GetWorkReceiptRequest>,
    ) -> Result<Response<proto::GetWorkReceiptResponse>, Status> {
        let id: [u8; 32] = fixed("id", &request.get_ref().id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        match self.store.get_work(&id).await.map_err(|e| work_error_status(e.into()))? {
            Some(r) => Ok(Response::new(proto::GetWorkReceiptResponse { receipt: Some(work_receipt_message(&r)) })),
            None => Err(Status::not_found(format!("no workload receipt {}", hex::encode(id)))),
        }
    }
}

/// The verifier contract of meter circuit `id` in the deployment (empty if none).
fn meter_verifier(deployment: &zkmeter_contracts::Deployment, id: &B256) -> Vec<u8> {
    deployment.circuits.iter().find(|c| c.circuit_id == *id).map_or_else(Vec::new, |c| c.verifier.to_vec())
}
