//! Where the explorer's data comes from: the verifier service implements
//! [`Source`] over its chain, its receipt store and its metrics. The explorer
//! itself reads nothing else and writes nothing.

use std::future::Future;

use crate::model::{Account, EpochProof, JobPage, JobSummary, ServiceStats};

/// A page of a list: `size` items after skipping `page × size` (newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Which page, from 0.
    pub page: u64,
    /// Items per page (at most [`crate::MAX_PAGE_SIZE`]).
    pub size: u64,
}

/// Why the data could not be read (the chain or the store did not answer).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// The data behind the explorer's pages.
pub trait Source: Send + Sync + 'static {
    /// Jobs, newest first, and how many there are in all.
    fn jobs(&self, page: Page) -> impl Future<Output = Result<(Vec<JobSummary>, u64), SourceError>> + Send;
    /// One job and its epochs; `None` if there is no such job.
    fn job(&self, id: u64) -> impl Future<Output = Result<Option<JobPage>, SourceError>> + Send;
    /// The epoch of job `job` that ends at record `seq`, with its proof.
    fn epoch(&self, job: u64, seq: u64) -> impl Future<Output = Result<Option<EpochProof>, SourceError>> + Send;
    /// An account.
    fn account(&self, address: [u8; 20]) -> impl Future<Output = Result<Account, SourceError>> + Send;
    /// The service's own figures.
    fn service(&self) -> impl Future<Output = Result<ServiceStats, SourceError>> + Send;
}
