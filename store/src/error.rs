//! What can go wrong with the store, each saying what to do.

use crate::receipt::{Hash, Status};

/// A store error.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or used right now; retrying may work.
    #[error("receipt database {database} unavailable: {reason}; check that it is running and reachable, then retry")]
    Unavailable {
        /// The database (URL without password).
        database: String,
        /// What the driver said.
        reason: String,
    },
    /// Another statement from the same stream state is live.
    #[error("another statement ({}) already moves this stream from the same state", hex(existing))]
    Conflict {
        /// The id of the live receipt.
        existing: Hash,
    },
    /// A workload request already has a receipt that claims another output.
    #[error(
        "workload request {} was recorded with output {} and {existing_work_units} work units: one model and one input \
         have one output; check the commitments you submit (a new run needs a new request)",
        hex(id), hex(existing_output)
    )]
    WorkConflict {
        /// The receipt id (the request).
        id: Hash,
        /// The output commitment recorded.
        existing_output: Hash,
        /// The work units recorded.
        existing_work_units: u64,
    },
    /// A status change the status machine does not allow.
    #[error("receipt {} is {from}; it cannot become {to}", hex(id))]
    BadTransition {
        /// The receipt.
        id: Hash,
        /// Its status.
        from: Status,
        /// The status asked for.
        to: Status,
    },
    /// No receipt with this id.
    #[error("no receipt {}", hex(id))]
    Missing {
        /// The id asked for.
        id: Hash,
    },
    /// A row that does not decode: the database was changed outside zkmeter.
    #[error("receipt database {database}: a row does not decode ({reason}); it was changed outside zkmeter")]
    Corrupt {
        /// The database.
        database: String,
        /// What is wrong.
        reason: String,
    },
    /// The schema could not be created or upgraded.
    #[error("receipt database {database}: cannot set up the schema ({reason}); if this is not a zkmeter receipt database, point --database-url elsewhere")]
    Migration {
        /// The database.
        database: String,
        /// What the migration said.
        reason: String,
    },
    /// The database file is damaged or is not a database at all.
    #[error(
        "receipt database {database} cannot be read ({reason}): it is damaged or not a zkmeter receipt database. \
         Restore it from a backup, or move it away: the provers submit again what it had not settled, and the chain \
         refuses anything settled twice"
    )]
    Damaged {
        /// The database.
        database: String,
        /// What SQLite said.
        reason: String,
    },
    /// The store records another chain's settlements.
    #[error(
        "receipt database {database} records the settlements of {recorded}, not of {chain}: a chain made again \
         at the same place reuses its ids, so its receipts must not mix. Use this chain's own database, or a new \
         data directory (--data-dir) or --database-url for the new chain"
    )]
    OtherChain {
        /// The database.
        database: String,
        /// The chain it records.
        recorded: String,
        /// The chain of the service opening it.
        chain: String,
    },
    /// The URL names no supported database.
    #[error("{url:?} is not a receipt database URL: use sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB")]
    BadUrl {
        /// The URL given.
        url: String,
    },
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
