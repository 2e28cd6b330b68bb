//! Between protobuf messages, the circuits' types and store rows (meter and
//! workload): fixed-size byte fields are checked here, once, with an error
//! naming the field.

use ark_bn254::Fr;
use zkmeter_circuits::workload::WorkloadStatement;
use zkmeter_circuits::field_bytes::{from_be_bytes, to_be_bytes};
use zkmeter_circuits::{Capacity, MeterStatement, PerClass, StreamId, StreamState};
use zkmeter_contracts::B256;
use zkmeter_store::{Receipt, Status, StreamStateRow, WorkReceipt};

use crate::proto;

/// A message field that is missing or has the wrong size or value.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// The field, e.g. "statement.prev.head".
    pub field: String,
    /// What is wrong with it and what it should be.
    pub problem: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: &str, problem: impl Into<String>) -> Self {
        FieldError { field: field.to_owned(), problem: problem.into() }
    }
}

/// Exactly `N` bytes.
pub fn fixed<const N: usize>(field: &str, bytes: &[u8]) -> Result<[u8; N], FieldError> {
    bytes.try_into().map_err(|_| FieldError::new(field, format!("{} bytes, expected {N}", bytes.len())))
}

/// A 32-byte big-endian field element, below the scalar modulus r.
pub fn field_element(field: &str, bytes: &[u8]) -> Result<Fr, FieldError> {
    from_be_bytes(&fixed(field, bytes)?).ok_or_else(|| FieldError::new(field, "not below the BN254 scalar modulus r"))
}

/// A proto stream state, checked.
pub fn stream_state(field: &str, s: Option<&proto::StreamState>) -> Result<StreamState, FieldError> {
    let s = s.ok_or_else(|| FieldError::new(field, "missing"))?;
    Ok(StreamState { head: field_element(&format!("{field}.head"), &s.head)?, seq: s.seq, end_ms: s.end_ms })
}

/// A stream state as a proto message.
pub fn state_message(s: &StreamState) -> proto::StreamState {
    proto::StreamState { head: to_be_bytes(&s.head).to_vec(), seq: s.seq, end_ms: s.end_ms }
}

/// A stream state as a store row.
pub fn state_row(s: &StreamState) -> StreamStateRow {
    StreamStateRow { head: to_be_bytes(&s.head), seq: s.seq, end_ms: s.end_ms }
}

/// A store row as a stream state; the store only holds states the service checked.
pub fn row_state(field: &str, r: &StreamStateRow) -> Result<StreamState, FieldError> {
    Ok(StreamState { head: field_element(field, &r.head)?, seq: r.seq, end_ms: r.end_ms })
}

fn row_message(r: &StreamStateRow) -> proto::StreamState {
    proto::StreamState { head: r.head.to_vec(), seq: r.seq, end_ms: r.end_ms }
}

/// A receipt status as its proto enum.
pub fn status_message(s: Status) -> proto::ReceiptStatus {
    match s {
        Status::Accepted => proto::ReceiptStatus::Accepted,
        Status::Verified => proto::ReceiptStatus::Verified,
        Status::Submitted => proto::ReceiptStatus::Submitted,
        Status::Settled => proto::ReceiptStatus::Settled,
        Status::Rejected => proto::ReceiptStatus::Rejected,
    }
}

/// A proto status filter: `None` for unspecified.
pub fn status_filter(s: proto::ReceiptStatus) -> Option<Status> {
    match s {
        proto::ReceiptStatus::Unspecified => None,
        proto::ReceiptStatus::Accepted => Some(Status::Accepted),
        proto::ReceiptStatus::Verified => Some(Status::Verified),
        proto::ReceiptStatus::Submitted => Some(Status::Submitted),
        proto::ReceiptStatus::Settled => Some(Status::Settled),
        proto::ReceiptStatus::Rejected => Some(Status::Rejected),
    }
}

/// A stored receipt as a proto message.
pub fn receipt_message(r: &Receipt) -> proto::Receipt {
    proto::Receipt {
        id: r.id.to_vec(),
        status: status_message(r.status).into(),
        reason: r.reason.clone().unwrap_or_default(),
        tx_hash: r.tx_hash.map(|h| h.to_vec()).unwrap_or_default(),
        gas_used: r.gas_used.unwrap_or_default(),
        chain_id: r.chain_id,
        circuit_id: r.circuit_id.to_vec(),
        statement: Some(proto::MeterStatement {
            job_id: r.job_id,
            meter: r.meter.to_vec(),
            prev: Some(row_message(&r.prev)),
            next: Some(row_message(&r.next)),
            record_count: r.record_count,
            totals: r.totals.to_vec(),
        }),
        attempts: r.attempts,
        created_at_ms: r.created_at_ms,
        updated_at_ms: r.updated_at_ms,
    }
}

/// The request that submits `statement` with its EVM-encoded proof and the
/// meter's signature.
pub fn submit_request(circuit_id: &B256, s: &MeterStatement, proof: &[u8], signature: &[u8]) -> proto::SubmitProofRequest {
    proto::SubmitProofRequest {
        circuit_id: circuit_id.to_vec(),
        statement: Some(proto::MeterStatement {
            job_id: s.stream.job_id,
            meter: s.stream.meter.to_vec(),
            prev: Some(state_message(&s.prev)),
            next: Some(state_message(&s.new)),
            record_count: s.record_count,
            totals: s.totals.0.to_vec(),
        }),
        proof: proof.to_vec(),
        meter_signature: signature.to_vec(),
    }
}

/// The statement a stored receipt holds, with `capacity` (receipts do not store it).
pub fn receipt_statement(r: &Receipt, capacity: Capacity) -> Result<MeterStatement, FieldError> {
    Ok(MeterStatement {
        stream: StreamId { meter: r.meter, job_id: r.job_id },
        prev: row_state("prev", &r.prev)?,
        new: row_state("next", &r.next)?,
        totals: PerClass(r.totals),
        record_count: r.record_count,
        capacity,
    })
}

/// A proto workload statement, checked: the three commitments 32 bytes and below r.
pub fn work_statement(s: Option<&proto::WorkStatement>) -> Result<WorkloadStatement, FieldError> {
    let s = s.ok_or_else(|| FieldError::new("statement", "missing"))?;
    Ok(WorkloadStatement {
        job_id: s.job_id,
        model: field_element("statement.model", &s.model)?,
        input: field_element("statement.input", &s.input)?,
        output: field_element("statement.output", &s.output)?,
        work_units: s.work_units,
    })
}

/// A workload statement as a proto message.
pub fn work_statement_message(s: &WorkloadStatement) -> proto::WorkStatement {
    proto::WorkStatement {
        job_id: s.job_id,
        model: to_be_bytes(&s.model).to_vec(),
        input: to_be_bytes(&s.input).to_vec(),
        output: to_be_bytes(&s.output).to_vec(),
        work_units: s.work_units,
    }
}

/// The request that submits a workload proof (`proof` EVM-encoded) for `statement`.
pub fn submit_work_request(circuit_id: &B256, statement: &WorkloadStatement, proof: &[u8]) -> proto::SubmitWorkRequest {
    proto::SubmitWorkRequest {
        circuit_id: circuit_id.to_vec(),
        statement: Some(work_statement_message(statement)),
        proof: proof.to_vec(),
    }
}

/// The statement a stored workload receipt holds; the store only holds statements
/// the service checked.
pub fn work_receipt_statement(r: &WorkReceipt) -> Result<WorkloadStatement, FieldError> {
    Ok(WorkloadStatement {
        job_id: r.job_id,
        model: field_element("model", &r.model)?,
        input: field_element("input", &r.input)?,
        output: field_element("output", &r.output)?,
        work_units: r.work_units,
    })
}

/// A stored workload receipt as a proto message.
pub fn work_receipt_message(r: &WorkReceipt) -> proto::WorkReceipt {
    proto::WorkReceipt {
        id: r.id.to_vec(),
        status: status_message(r.status).into(),
        reason: r.reason.clone().unwrap_or_default(),
        tx_hash: r.tx_hash.map(|h| h.to_vec()).unwrap_or_default(),
        gas_used: r.gas_used.unwrap_or_default(),
        chain_id: r.chain_id,
        circuit_id: r.circuit_id.to_vec(),
        statement: Some(proto::WorkStatement {
            job_id: r.job_id,
            model: r.model.to_vec(),
            input: r.input.to_vec(),
            output: r.output.to_vec(),
            work_units: r.work_units,
        }),
        attempts: r.attempts,
        created_at_ms: r.created_at_ms,
        updated_at_ms: r.updated_at_ms,
    }
}
