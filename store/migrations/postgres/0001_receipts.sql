-- One row per statement submitted to the verifier service. u64 values are stored
-- bit-for-bit in BIGINT (values ≥ 2^63 read back as negative here, exact in Rust);
-- totals are 5 big-endian u64 in one 40-byte blob.
CREATE TABLE receipts (
    id              BYTEA PRIMARY KEY,
    chain_id        BIGINT NOT NULL,
    circuit_id      BYTEA NOT NULL,
    job_id          BIGINT NOT NULL,
    meter           BYTEA NOT NULL,
    prev_head       BYTEA NOT NULL,
    prev_seq        BIGINT NOT NULL,
    prev_end_ms     BIGINT NOT NULL,
    next_head       BYTEA NOT NULL,
    next_seq        BIGINT NOT NULL,
    next_end_ms     BIGINT NOT NULL,
    record_count    BIGINT NOT NULL,
    totals          BYTEA NOT NULL,
    proof           BYTEA NOT NULL,
    meter_signature BYTEA NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT,
    tx_hash         BYTEA,
    gas_used        BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);
-- Two statements moving one stream from the same state cannot both settle.
CREATE UNIQUE INDEX receipts_one_live_statement_per_state
    ON receipts (chain_id, job_id, prev_seq) WHERE status <> 'rejected';
CREATE INDEX receipts_by_status ON receipts (status, created_at_ms, id);
CREATE INDEX receipts_by_time ON receipts (created_at_ms, id);
CREATE INDEX receipts_by_job ON receipts (chain_id, job_id, created_at_ms);
