//! Prometheus metrics of the daemon, served as text at `/metrics`: records
//! logged (and cut down to capacity), epochs cut, proved and settled, proving
//! time, submission outcomes, workload inputs proved, settled and rejected, and
//! the backlog not settled yet.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

type Labels = Vec<(&'static str, String)>;

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    records: Family<Labels, Counter>,
    clamped: Family<Labels, Counter>,
    epochs: Family<Labels, Counter>,
    prove_seconds: Histogram,
    submissions: Family<Labels, Counter>,
    workloads: Family<Labels, Counter>,
    backlog_records: Family<Labels, Gauge>,
    backlog_epochs: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn job(job_id: u64) -> Labels {
    vec![("job", job_id.to_string())]
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("zkmeter_prover");
        let records = Family::<Labels, Counter>::default();
        registry.register("records_logged", "Meter records written to the stream log", records.clone());
        let clamped = Family::<Labels, Counter>::default();
        registry.register(
            "clamped_records",
            "Readings above the stream's registered capacity, cut down to it before logging",
            clamped.clone(),
        );
        let epochs = Family::<Labels, Counter>::default();
        registry.register("epochs", "Epochs by step reached (cut, proved, settled)", epochs.clone());
        let prove_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 16));
        registry.register("prove_seconds", "Time to prove one epoch", prove_seconds.clone());
        let submissions = Family::<Labels, Counter>::default();
        registry.register("submissions", "Submissions to the verifier by outcome", submissions.clone());
        let workloads = Family::<Labels, Counter>::default();
        registry.register("workloads", "Workload inputs by step reached (proved, settled, rejected)", workloads.clone());
        let backlog_records = Family::<Labels, Gauge>::default();
        registry.register("backlog_records", "Records logged but not settled yet", backlog_records.clone());
        let backlog_epochs = Family::<Labels, Gauge>::default();
        registry.register("backlog_epochs", "Epochs cut but not settled yet", backlog_epochs.clone());
        Metrics { registry, records, clamped, epochs, prove_seconds, submissions, workloads, backlog_records, backlog_epochs }
    }

    /// Counts records logged for a job, `clamped` of them cut down to capacity.
    pub fn logged(&self, job_id: u64, records: usize, clamped: usize) {
        self.records.get_or_create(&job(job_id)).inc_by(records as u64);
        if clamped > 0 {
            self.clamped.get_or_create(&job(job_id)).inc_by(clamped as u64);
        }
    }

    /// Counts an epoch reaching `step` ("cut", "proved", "settled").
    pub fn epoch(&self, job_id: u64, step: &'static str) {
        let mut labels = job(job_id);
        labels.push(("step", step.to_owned()));
        self.epochs.get_or_create(&labels).inc();
    }

    /// Records one proof's time.
    pub fn proved(&self, took: Duration) {
        self.prove_seconds.observe(took.as_secs_f64());
    }

    /// Counts a submission with `outcome` ("accepted", "unavailable", "refused").
    pub fn submission(&self, outcome: &'static str) {
        self.submissions.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    /// Counts a workload input of a job reaching `step` ("proved", "settled", "rejected").
    pub fn workload(&self, job_id: u64, step: &'static str) {
        let mut labels = job(job_id);
        labels.push(("step", step.to_owned()));
        self.workloads.get_or_create(&labels).inc();
    }

    /// Sets a job's backlog.
    pub fn backlog(&self, job_id: u64, records: u64, epochs: u64) {
        self.backlog_records.get_or_create(&job(job_id)).set(records as i64);
        self.backlog_epochs.get_or_create(&job(job_id)).set(epochs as i64);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Serves `/metrics` on `addr`; returns the bound address and the serving task.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render()) }
        }),
    );
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics endpoint stopped");
        }
    });
    Ok((bound, task))
}
