-- One row per workload request (job, circuit, model, input) whose proof the
-- verifier service verified: the id is a hash of the request, so a request has
-- one receipt and one output however often it is submitted. u64 values are
-- stored bit-for-bit in BIGINT, as in receipts. Statuses and settlement claims
-- work as in receipts; a row is only written once its proof verified, so it
-- starts verified.
CREATE TABLE work_receipts (
    id               BLOB PRIMARY KEY,
    chain_id         BIGINT NOT NULL,
    circuit_id       BLOB NOT NULL,
    job_id           BIGINT NOT NULL,
    model            BLOB NOT NULL,
    input            BLOB NOT NULL,
    output           BLOB NOT NULL,
    work_units       BIGINT NOT NULL,
    proof            BLOB NOT NULL,
    status           TEXT NOT NULL,
    reason           TEXT,
    tx_hash          BLOB,
    gas_used         BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    claimed_by       TEXT,
    claimed_until_ms BIGINT,
    created_at_ms    BIGINT NOT NULL,
    updated_at_ms    BIGINT NOT NULL
);
CREATE INDEX work_receipts_by_status ON work_receipts (chain_id, status, created_at_ms, id);
CREATE INDEX work_receipts_by_job ON work_receipts (chain_id, job_id, created_at_ms);
