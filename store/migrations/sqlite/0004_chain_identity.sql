-- The chain whose settlements this store records (its id, its genesis id and the
-- settlement contract): one row, written by the first service that opens the
-- store. A chain made again at the same place has the same chain id, addresses
-- and job ids, so a store is never used for another chain.
CREATE TABLE chain_identity (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    chain_id    BIGINT NOT NULL,
    genesis_id  BLOB NOT NULL,
    settlement  BLOB NOT NULL
);
