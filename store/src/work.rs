//! [`Store`]'s workload receipts: the `work_receipts` table, with the same
//! status machine and settlement claims as meter receipts.

use sqlx::any::AnyRow;
use sqlx::Any;
use std::time::Duration;

use crate::error::StoreError;
use crate::receipt::{Hash, Status};
use crate::store::{Store, int, now_ms, uint};
use crate::work_receipt::{NewWorkReceipt, WorkAccepted, WorkReceipt};

const WORK_COLUMNS: &str = "id, chain_id, circuit_id, job_id, model, input, output, work_units, proof, status, reason, \
     tx_hash, gas_used, attempts, created_at_ms, updated_at_ms";

impl Store {
    /// Records `r` as verified (its proof was checked before it got here), or
    /// returns the receipt already recorded for the same request when it claims
    /// the same output. Refuses with [`StoreError::WorkConflict`] the same request
    /// with another output. Safe against concurrent callers (also on other
    /// replicas): the primary key decides, not a read before the write.
    pub async fn accept_work(&self, r: NewWorkReceipt) -> Result<WorkAccepted, StoreError> {
        let now = now_ms();
        let sql = format!(
            "INSERT INTO work_receipts ({WORK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL, \
             0, $11, $11) ON CONFLICT DO NOTHING"
        );
        let inserted = sqlx::query::<Any>(&sql)
            .bind(r.id.to_vec())
            .bind(int(r.chain_id))
            .bind(r.circuit_id.to_vec())
            .bind(int(r.job_id))
            .bind(r.model.to_vec())
            .bind(r.input.to_vec())
            .bind(r.output.to_vec())
            .bind(int(r.work_units))
            .bind(r.proof.clone())
            .bind(Status::Verified.as_str())
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?
            .rows_affected()
            == 1;
        // Rows are never deleted: the one that won the key is there.
        let existing = self.get_work(&r.id).await?.ok_or(StoreError::Missing { id: r.id })?;
        if inserted {
            Ok(WorkAccepted::New(existing))
        } else if existing.same_claim(&r) {
            Ok(WorkAccepted::Existing(existing))
        } else {
            Err(StoreError::WorkConflict {
                id: r.id,
                existing_output: existing.output,
                existing_work_units: existing.work_units,
            })
        }
    }

    /// The workload receipt with this id.
    pub async fn get_work(&self, id: &Hash) -> Result<Option<WorkReceipt>, StoreError> {
        let row = sqlx::query::<Any>(&format!("SELECT {WORK_COLUMNS} FROM work_receipts WHERE id = $1"))
            .bind(id.to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        row.map(|r| self.work_receipt(&r)).transpose()
    }

    /// Moves workload receipt `id` to `to`, as [`Store::set_status`] moves a
    /// meter receipt.
    pub async fn set_work_status(
        &self,
        id: &Hash,
        to: Status,
        reason: Option<&str>,
        tx_hash: Option<Hash>,
        gas_used: Option<u64>,
    ) -> Result<WorkReceipt, StoreError> {
        let changed = self.move_status("work_receipts", id, to, reason, tx_hash, gas_used).await?;
        let receipt = self.get_work(id).await?.ok_or(StoreError::Missing { id: *id })?;
        if !changed {
            return Err(StoreError::BadTransition { id: *id, from: receipt.status, to });
        }
        Ok(receipt)
    }

    /// Claims up to `limit` workload receipts waiting for settlement on
    /// `chain_id`, oldest first, exactly as [`Store::claim_settlement`] claims
    /// meter receipts (same lease rules; replicas never get the same one at once).
    pub async fn claim_work_settlement(
        &self,
        chain_id: u64,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<WorkReceipt>, StoreError> {
        let rows = self.claim_rows("work_receipts", WORK_COLUMNS, chain_id, owner, lease, limit).await?;
        let mut claimed = rows.iter().map(|r| self.work_receipt(r)).collect::<Result<Vec<_>, _>>()?;
        // RETURNING keeps no order.
        claimed.sort_by_key(|r| (r.created_at_ms, r.id));
        Ok(claimed)
    }

    fn work_receipt(&self, row: &AnyRow) -> Result<WorkReceipt, StoreError> {
        let u = |column: &str| self.get_col::<i64>(row, column).map(uint);
        let status: String = self.get_col(row, "status")?;
        let tx_hash: Option<Vec<u8>> = self.get_col(row, "tx_hash")?;
        Ok(WorkReceipt {
            id: self.hash(row, "id")?,
            chain_id: u("chain_id")?,
            circuit_id: self.hash(row, "circuit_id")?,
            job_id: u("job_id")?,
            model: self.hash(row, "model")?,
            input: self.hash(row, "input")?,
            output: self.hash(row, "output")?,
            work_units: u("work_units")?,
            proof: self.get_col(row, "proof")?,
            status: status.parse().map_err(|e: String| self.corrupt(e))?,
            reason: self.get_col(row, "reason")?,
            tx_hash: tx_hash
                .map(|h| h.try_into().map_err(|_| self.corrupt("tx_hash is not 32 bytes")))
                .transpose()?,
            gas_used: self.get_col::<Option<i64>>(row, "gas_used")?.map(uint),
            attempts: u32::try_from(u("attempts")?).map_err(|_| self.corrupt("attempts above 2^32"))?,
            created_at_ms: u("created_at_ms")?,
            updated_at_ms: u("updated_at_ms")?,
        })
    }
}
