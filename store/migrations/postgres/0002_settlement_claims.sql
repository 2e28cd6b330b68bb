-- Several verifier replicas share one store: each claims the receipts it is about
-- to settle for a while (a lease), so that two replicas do not send the same
-- settlement. A claim that runs out (its replica died) can be taken by another.
ALTER TABLE receipts ADD COLUMN claimed_by TEXT;
ALTER TABLE receipts ADD COLUMN claimed_until_ms BIGINT;
