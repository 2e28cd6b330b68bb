//! # zkmeter-store
//!
//! The verifier service's receipts, durable and idempotent: one row per
//! submitted meter statement (`receipts`) and one per workload request
//! (`work_receipts`), in SQLite (a file in the data directory, WAL mode, the
//! default) or PostgreSQL (`postgres://…`, so several verifier replicas share
//! one store). The schema is created and upgraded by embedded migrations, one
//! set per backend (`store/migrations/`).
//!
//! What it guarantees, in the database itself rather than in the caller:
//! the same statement id always maps to the same receipt (even when replicas
//! insert it at once); two different statements moving one stream from the same
//! state cannot both be live; a workload request has one receipt and one output;
//! a receipt only moves along the allowed status transitions, checked and applied
//! in one statement; replicas never claim one settlement at once.
//!
//! It does **not** know what a proof or a statement means (bytes and integers
//! only, no arkworks), compute ids, or talk to a chain.
//!
//! Where to start reading: [`Store`] ([`store`]), then [`receipt`] for the rows
//! and the status machine; [`work_receipt`] and the `*_work` methods for
//! workload receipts.

pub mod chain_identity;
pub mod error;
pub mod receipt;
pub mod store;
mod work;
pub mod work_receipt;

pub use chain_identity::ChainIdentity;
pub use error::StoreError;
pub use receipt::{Accepted, Hash, NewReceipt, Receipt, ReceiptFilter, Status, StreamStateRow};
pub use store::{Backend, Store};
pub use work_receipt::{NewWorkReceipt, WorkAccepted, WorkReceipt};
