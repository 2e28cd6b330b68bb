//! Which chain a store belongs to: recorded by the first service that opens it,
//! checked by every later one.

use sqlx::{Any, Row};

use crate::error::StoreError;
use crate::store::{Store, int, uint};

/// A chain as a store knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainIdentity {
    /// The chain id.
    pub chain_id: u64,
    /// The chain's genesis id (its block 0 hash, or the embedded chain's random id).
    pub genesis_id: [u8; 32],
    /// The settlement contract.
    pub settlement: [u8; 20],
}

impl std::fmt::Display for ChainIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chain {} (genesis 0x{}, settlement 0x{})", self.chain_id, hex(&self.genesis_id), hex(&self.settlement))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Ties the store to `chain`: records it in a new store, and refuses with
    /// [`StoreError::OtherChain`] a store that records another chain.
    pub async fn bind_chain(&self, chain: &ChainIdentity) -> Result<(), StoreError> {
        sqlx::query::<Any>(
            "INSERT INTO chain_identity (singleton, chain_id, genesis_id, settlement) VALUES (1, $1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(int(chain.chain_id))
        .bind(chain.genesis_id.to_vec())
        .bind(chain.settlement.to_vec())
        .execute(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        let row = sqlx::query::<Any>("SELECT chain_id, genesis_id, settlement FROM chain_identity WHERE singleton = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        let bytes = |name: &str| -> Result<Vec<u8>, StoreError> { row.try_get(name).map_err(|e| self.corrupt(e.to_string())) };
        let recorded = ChainIdentity {
            chain_id: uint(row.try_get::<i64, _>("chain_id").map_err(|e| self.corrupt(e.to_string()))?),
            genesis_id: bytes("genesis_id")?.try_into().map_err(|_| self.corrupt("genesis_id is not 32 bytes"))?,
            settlement: bytes("settlement")?.try_into().map_err(|_| self.corrupt("settlement is not 20 bytes"))?,
        };
        if recorded != *chain {
            return Err(StoreError::OtherChain { database: self.database().to_owned(), recorded: recorded.to_string(), chain: chain.to_string() });
        }
        Ok(())
    }
}
