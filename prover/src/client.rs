//! The daemon's side of the verifier service's gRPC API (`zkmeter.v1`): what it
//! asks, and which answers mean "try again later" and which mean "no".

use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use zkmeter_circuits::{Capacity, PerClass, ResourceClass, StreamState};
use zkmeter_contracts::{Address, B256, circuit_id};
use zkmeter_circuits::KeyHeader;
use zkmeter_circuits::workload::WorkloadStatement;
use zkmeter_service::convert::{stream_state, submit_request, submit_work_request};
use zkmeter_service::proto::verifier_service_client::VerifierServiceClient;
use zkmeter_service::proto::{GetCircuitRequest, GetReceiptRequest, GetStreamStateRequest, GetWorkReceiptRequest, ReceiptStatus};

use crate::epoch::Domain;
use crate::stream_log::Cut;

/// What went wrong talking to the verifier.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service could not be reached or could not answer now: retry later.
    #[error("the verifier service is unavailable ({0}); retrying")]
    Unavailable(String),
    /// The service refused the request; retrying the same request will not help.
    #[error("the verifier service refused it: {message} ({code:?})")]
    Refused {
        /// The gRPC status code.
        code: Code,
        /// The service's explanation.
        message: String,
    },
    /// The URL is not a valid endpoint.
    #[error("verifier_url {url:?} is not a valid URL: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The service's answer is malformed.
    #[error("the verifier service answered with {0}")]
    BadAnswer(String),
}

impl From<Status> for ClientError {
    fn from(s: Status) -> Self {
        match s.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::ResourceExhausted | Code::Aborted | Code::Internal | Code::Cancelled => {
                ClientError::Unavailable(format!("{:?}: {}", s.code(), s.message()))
            }
            code => ClientError::Refused { code, message: s.message().to_owned() },
        }
    }
}

/// A stream's state as the service knows it.
#[derive(Clone, Copy, Debug)]
pub struct RemoteStream {
    /// The job's meter.
    pub meter: Address,
    /// Settled on the chain.
    pub settled: StreamState,
    /// Latest accepted (settled or not).
    pub latest: StreamState,
    /// The job's capacity, fixed when it was opened.
    pub capacity: Capacity,
    /// Whether the job is open.
    pub open: bool,
}

/// Where a submitted epoch's receipt stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptState {
    /// Accepted or verified; settlement not done yet (with the last settlement error, if any).
    Pending(String),
    /// Settled, in this transaction, for this gas.
    Settled {
        /// The transaction hash.
        tx_hash: Vec<u8>,
        /// Gas used.
        gas: u64,
    },
    /// Rejected, for this reason.
    Rejected(String),
}

/// A client of one verifier service, connecting lazily (the daemon starts while
/// the service is down).
#[derive(Clone)]
pub struct VerifierClient {
    inner: VerifierServiceClient<Channel>,
    circuit: B256,
}

impl VerifierClient {
    /// A client of the service at `url` for the circuit with key `header`.
    pub fn new(url: &str, header: &KeyHeader, timeout: Duration) -> Result<Self, ClientError> {
        let bad = |reason: String| ClientError::BadUrl { url: url.to_owned(), reason };
        let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| bad(e.to_string()))?;
        let channel = endpoint.connect_timeout(timeout.min(Duration::from_secs(5))).timeout(timeout).connect_lazy();
        Ok(VerifierClient { inner: VerifierServiceClient::new(channel), circuit: circuit_id(header) })
    }

    /// The EIP-712 domain the service settles in, checking it verifies our circuit.
    pub async fn domain(&mut self) -> Result<Domain, ClientError> {
        let r = self.inner.get_circuit(GetCircuitRequest { circuit_id: self.circuit.to_vec() }).await?.into_inner();
        let settlement: [u8; 20] = r
            .settlement_contract
            .as_slice()
            .try_into()
            .map_err(|_| ClientError::BadAnswer(format!("a settlement contract of {} bytes", r.settlement_contract.len())))?;
        let genesis: [u8; 32] = r
            .genesis_id
            .as_slice()
            .try_into()
            .map_err(|_| ClientError::BadAnswer(format!("a genesis id of {} bytes (is the verifier older than this prover?)", r.genesis_id.len())))?;
        Ok(Domain { chain_id: r.chain_id, settlement: Address::from(settlement), genesis_id: B256::from(genesis) })
    }

    /// The stream state of a job.
    pub async fn stream(&mut self, job_id: u64) -> Result<RemoteStream, ClientError> {
        let r = self.inner.get_stream_state(GetStreamStateRequest { job_id }).await?.into_inner();
        let state = |field, s| stream_state(field, s).map_err(|e| ClientError::BadAnswer(e.to_string()));
        let capacity: [u64; ResourceClass::COUNT] = r
            .capacity
            .as_slice()
            .try_into()
            .map_err(|_| ClientError::BadAnswer(format!("{} capacity values", r.capacity.len())))?;
        let meter: [u8; 20] =
            r.meter.as_slice().try_into().map_err(|_| ClientError::BadAnswer(format!("a meter of {} bytes", r.meter.len())))?;
        Ok(RemoteStream {
            meter: Address::from(meter),
            settled: state("settled", r.settled.as_ref())?,
            latest: state("latest", r.latest.as_ref())?,
            capacity: PerClass(capacity),
            open: r.open,
        })
    }

    /// Submits a proved epoch; returns its receipt id and state.
    pub async fn submit(&mut self, cut: &Cut, proof: &[u8]) -> Result<(Vec<u8>, ReceiptState), ClientError> {
        let request = submit_request(&self.circuit, &cut.statement, proof, &cut.signature);
        let receipt = self
            .inner
            .submit_proof(request)
            .await?
            .into_inner()
            .receipt
            .ok_or_else(|| ClientError::BadAnswer("no receipt".into()))?;
        let state = receipt_state(receipt.status, &receipt.reason, &receipt.tx_hash, receipt.gas_used);
        Ok((receipt.id, state))
    }

    /// Reads a receipt.
    pub async fn receipt(&mut self, id: &[u8]) -> Result<ReceiptState, ClientError> {
        let r = self.inner.get_receipt(GetReceiptRequest { id: id.to_vec() }).await?.into_inner();
        let r = r.receipt.ok_or_else(|| ClientError::BadAnswer("no receipt".into()))?;
        Ok(receipt_state(r.status, &r.reason, &r.tx_hash, r.gas_used))
    }

    /// Submits a workload proof (EVM layout) for `statement` with workload circuit
    /// `circuit_id`; returns its receipt id and state.
    pub async fn submit_work(
        &mut self,
        circuit_id: B256,
        statement: &WorkloadStatement,
        proof: &[u8],
    ) -> Result<(Vec<u8>, ReceiptState), ClientError> {
        let request = submit_work_request(&circuit_id, statement, proof);
        let receipt = self
            .inner
            .submit_work(request)
            .await?
            .into_inner()
            .receipt
            .ok_or_else(|| ClientError::BadAnswer("no workload receipt".into()))?;
        let state = receipt_state(receipt.status, &receipt.reason, &receipt.tx_hash, receipt.gas_used);
        Ok((receipt.id, state))
    }

    /// Reads a workload receipt.
    pub async fn work_receipt(&mut self, id: &[u8]) -> Result<ReceiptState, ClientError> {
        let r = self.inner.get_work_receipt(GetWorkReceiptRequest { id: id.to_vec() }).await?.into_inner();
        let r = r.receipt.ok_or_else(|| ClientError::BadAnswer("no workload receipt".into()))?;
        Ok(receipt_state(r.status, &r.reason, &r.tx_hash, r.gas_used))
    }
}

fn receipt_state(status: i32, reason: &str, tx_hash: &[u8], gas_used: u64) -> ReceiptState {
    match ReceiptStatus::try_from(status) {
        Ok(ReceiptStatus::Settled) => ReceiptState::Settled { tx_hash: tx_hash.to_vec(), gas: gas_used },
        Ok(ReceiptStatus::Rejected) => ReceiptState::Rejected(reason.to_owned()),
        _ => ReceiptState::Pending(reason.to_owned()),
    }
}
