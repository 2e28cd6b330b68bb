//! The daemon: one meter thread per stream (read its sources, log the records, cut
//! epochs), one proving thread (epochs in the order they were cut), one
//! submission task per stream (submit in order, poll receipts, mark settled), and
//! one task that learns the chain and each job from the verifier service.
//!
//! Every hand-off goes through the stream log: a thread only acts on what the log
//! holds, so a crash anywhere resumes from the log with nothing lost or doubled —
//! records not cut are cut, cuts not proved are proved (the same statement),
//! proofs not settled are submitted again (the service answers with the receipt
//! it has), and an epoch is settled only when the service says so.
//!
//! A stream's log is created only once the verifier has said where the job's
//! stream starts (its opening time on the chain, or the latest state it knows),
//! for which chain and with which capacity; until then its meters wait. While the
//! verifier service or the chain is down, metering, cutting and proving of
//! streams with a log go on; submissions retry with exponential backoff. Workload
//! jobs run as one task each beside the streams ([`crate::work_queue`]).
//!
//! One file per job: [`domain`] (the chain and the jobs), [`meter_loop`] (reading,
//! logging, cutting), [`prove_loop`], [`submit_loop`].

mod domain;
mod meter_loop;
mod prove_loop;
mod submit_loop;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use zkmeter_circuits::{PerClass, StreamId};
use zkmeter_contracts::Address;

use crate::client::{ClientError, VerifierClient};
use crate::config::{Config, StreamConfig};
use crate::epoch::Domain;
use crate::identity::{KeyFileError, MeterKey};
use crate::meter::set::SourceSet;
use crate::meter::{self, MeterError};
use crate::metrics::Metrics;
use crate::proving::{EpochProver, GpuGate, ProvingError};
use crate::stream_log::{LogError, StreamLog};
use crate::work_queue::{self, WorkloadError, WorkloadJob};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A stream's meter key could not be loaded.
    #[error("stream of job {job_id}: {source}")]
    Key {
        /// The job.
        job_id: u64,
        /// Why.
        source: KeyFileError,
    },
    /// A stream's log could not be opened.
    #[error("stream of job {job_id}: {source}")]
    Log {
        /// The job.
        job_id: u64,
        /// Why.
        source: LogError,
    },
    /// A stream log of the retired meter statement v1 is in the data directory.
    #[error(
        "stream of job {job_id}: {} is a stream log of meter statement v1 (one class per stream, not anchored to the \
         chain's clock); its epochs cannot settle on a v2 settlement contract. Move it out of {} (keep it for your \
         records) and start again: the v2 log is job-{job_id}.v2.log",
        .path.display(), .path.parent().map(|p| p.display().to_string()).unwrap_or_default()
    )]
    RetiredLog {
        /// The job.
        job_id: u64,
        /// The v1 log.
        path: PathBuf,
    },
    /// A stream's sources contradict each other.
    #[error("stream of job {job_id}: {source}")]
    Sources {
        /// The job.
        job_id: u64,
        /// Why.
        source: MeterError,
    },
    /// The proving engine could not start.
    #[error(transparent)]
    Proving(#[from] ProvingError),
    /// A workload job could not start.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The verifier URL is unusable.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No stream can meter anything and none has anything left to settle.
    #[error("no stream can meter here: {0}")]
    NothingToDo(String),
    /// A stream log could not be written; restart the daemon (it resumes from the logs).
    #[error("{0}; the daemon stopped so that a restart resumes from the stream logs (nothing they hold is lost)")]
    LogFailed(String),
    /// The metrics endpoint could not listen.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// How a run ends.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Stop by itself once every stream has stopped metering (its sources are
    /// exhausted or `stop_after_records` reached), every epoch is settled, and
    /// every workload input in the inboxes is settled or rejected.
    pub exit_when_settled: bool,
}

/// Where one stream stands, for the demo's live table and for tests.
#[derive(Clone, Debug, Default)]
pub struct StreamStatus {
    /// The job.
    pub job_id: u64,
    /// The meter's address.
    pub meter: Address,
    /// What the sources read, and why any of them does not.
    pub source: String,
    /// Records logged.
    pub records: u64,
    /// Epochs cut, proved and settled.
    pub epochs: (u64, u64, u64),
    /// Per-class totals settled.
    pub settled_totals: PerClass,
    /// Gas of the settlements seen by this run.
    pub gas: u64,
    /// How long the last proof took.
    pub last_prove: Option<Duration>,
    /// Time spent proving this stream's epochs in this run.
    pub prove_total: Duration,
    /// What the stream is doing or waiting for.
    pub note: String,
    /// Metering has ended (sources exhausted, limit reached, or none available).
    pub metering_done: bool,
}

/// The daemon's live view, shared with whoever started it.
#[derive(Clone, Default)]
pub struct Status(Arc<Mutex<Vec<StreamStatus>>>);

impl Status {
    /// A copy of every stream's status.
    pub fn snapshot(&self) -> Vec<StreamStatus> {
        lock(&self.0).clone()
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut StreamStatus)) {
        if let Some(s) = lock(&self.0).get_mut(index) {
            f(s);
        }
    }
}

struct Stream {
    config: StreamConfig,
    key: MeterKey,
    id: StreamId,
    /// The stream's log, once it exists (found at start-up, or created when the
    /// verifier said where the job's stream starts).
    log: OnceLock<Mutex<StreamLog>>,
    proved: Notify,
    /// Why epochs are not cut (a configuration that contradicts the chain).
    blocked: Mutex<Option<String>>,
    metering_done: AtomicBool,
    /// Since when the oldest uncut record has waited (logged, or found in the log
    /// at start-up).
    uncut_since: Mutex<Option<Instant>>,
}

impl Stream {
    /// The log, if the stream has one yet.
    fn log(&self) -> Option<MutexGuard<'_, StreamLog>> {
        self.log.get().map(lock)
    }

    fn block(&self, shared: &Shared, index: usize, why: String) {
        tracing::error!(job_id = self.config.job_id, "{why}");
        shared.status.update(index, |s| s.note = why.clone());
        *lock(&self.blocked) = Some(why);
    }
}

struct Shared {
    config: Config,
    streams: Vec<Arc<Stream>>,
    workloads: Vec<Arc<WorkloadJob>>,
    domain: OnceLock<Domain>,
    metrics: Arc<Metrics>,
    status: Status,
    stopping: AtomicBool,
    /// A stream log write failed: memory and file may differ, so the daemon stops
    /// and is restarted from the logs (what they hold is all that was acknowledged).
    fatal: Mutex<Option<String>>,
}

impl Shared {
    fn fail(&self, job_id: u64, why: String) {
        tracing::error!(job_id, "{why}");
        lock(&self.fatal).get_or_insert_with(|| format!("job {job_id}: {why}"));
        self.stopping.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking thread already reported itself; its data is still the log's.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The stream of one `[[stream]]` entry: its key, its log if it has one, its
/// sources opened (each one that cannot be is reported in `status`).
fn open_stream(config: &Config, sc: &StreamConfig) -> Result<(Stream, SourceSet, StreamStatus), DaemonError> {
    let job_id = sc.job_id;
    let retired = config.retired_stream_log(job_id);
    if retired.exists() {
        return Err(DaemonError::RetiredLog { job_id, path: retired });
    }
    let key = MeterKey::load(&sc.key_file).map_err(|source| DaemonError::Key { job_id, source })?;
    let id = StreamId { meter: key.address().into(), job_id };
    let log = OnceLock::new();
    if let Some((found, dropped)) =
        StreamLog::open(&config.stream_log(job_id), id).map_err(|source| DaemonError::Log { job_id, source })?
    {
        if dropped > 0 {
            tracing::warn!(job_id, bytes = dropped, "dropped a torn last write from the stream log (a crash mid-write); nothing before it is lost");
        }
        let _ = log.set(Mutex::new(found));
    }
    let opened = sc.sources.iter().map(|c| (c.class(), meter::open(c))).collect();
    let sources = SourceSet::new(opened).map_err(|source| DaemonError::Sources { job_id, source })?;
    let mut status = StreamStatus { job_id, meter: key.address(), source: sources.describe(), ..Default::default() };
    if let Some(problems) = sources.problems() {
        tracing::warn!(job_id, "{problems}");
        status.note = problems;
    }
    if sources.any_open() {
        tracing::info!(job_id, meter = %key.address(), sources = %status.source, "metering");
    } else {
        status.metering_done = true;
    }
    let uncut_since = log.get().and_then(|l| (!lock(l).uncut().is_empty()).then(Instant::now));
    let stream = Stream {
        config: sc.clone(),
        key,
        id,
        log,
        proved: Notify::new(),
        blocked: Mutex::new(None),
        metering_done: AtomicBool::new(!sources.any_open()),
        uncut_since: Mutex::new(uncut_since),
    };
    Ok((stream, sources, status))
}

/// Runs the daemon until `shutdown` resolves (or, with
/// [`RunOptions::exit_when_settled`], until everything is settled). `status`
/// is kept up to date for the caller.
pub async fn run(
    config: Config,
    options: RunOptions,
    status: Status,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let prover = {
        let (path, slots, backend) = (config.proving_key(), config.slots, config.backend);
        let (threads, nice) = (config.proving.threads, config.proving.nice);
        tokio::task::spawn_blocking(move || EpochProver::load(&path, slots, backend, threads, nice))
            .await
            .expect("loading the key does not panic")?
    };
    tracing::info!(backend = prover.backend_name(), slots = config.slots, "proving key loaded");
    let client = VerifierClient::new(&config.verifier_url, prover.header(), Duration::from_millis(config.submit.request_timeout_ms))?;

    let mut streams = Vec::new();
    let mut sources = Vec::new();
    let mut statuses = Vec::new();
    for sc in &config.streams {
        let (stream, set, status) = open_stream(&config, sc)?;
        streams.push(Arc::new(stream));
        sources.push(set);
        statuses.push(status);
    }
    let has_work = |s: &Arc<Stream>| s.log().is_some_and(|log| log.unsettled().next().is_some() || !log.uncut().is_empty());
    let workloads = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || work_queue::load_all(&config)).await.expect("loading workloads does not panic")?
    };
    for w in &workloads {
        tracing::info!(job_id = w.job_id(), "proving workloads");
    }
    if !sources.iter().any(SourceSet::any_open) && !streams.iter().any(has_work) && workloads.is_empty() {
        let why: Vec<String> =
            statuses.iter().map(|s: &StreamStatus| format!("job {}: {}", s.job_id, s.source)).collect();
        return Err(DaemonError::NothingToDo(why.join("; ")));
    }
    let metrics = Arc::new(Metrics::new());
    let metrics_task = match config.metrics_listen {
        Some(addr) => {
            let (bound, task) =
                crate::metrics::serve(addr, metrics.clone()).await.map_err(|source| DaemonError::Metrics { addr, source })?;
            tracing::info!(%bound, "metrics on /metrics");
            Some(task)
        }
        None => None,
    };

    *lock(&status.0) = statuses;
    let shared = Arc::new(Shared {
        domain: OnceLock::new(),
        config,
        streams,
        workloads,
        metrics,
        status,
        stopping: AtomicBool::new(false),
        fatal: Mutex::new(None),
    });
    domain::check_saved(&shared);

    let (prove_tx, prove_rx) = mpsc::channel::<(usize, u64)>();
    for (index, stream) in shared.streams.iter().enumerate() {
        if let Some(log) = stream.log() {
            for e in log.unsettled().filter(|e| e.proof.is_none()) {
                let _ = prove_tx.send((index, e.cut.epoch));
            }
            refresh(&shared, index, &log);
        }
    }
    let gate = match shared.config.proving.defer_while_gpu_busy_percent {
        Some(busy) if prover.backend_name() == "cuda" => {
            match GpuGate::open(busy, Duration::from_millis(shared.config.proving.max_defer_ms)) {
                Ok(gate) => Some(gate),
                Err(why) => {
                    tracing::warn!("proofs are not held back for a busy GPU: {why}");
                    None
                }
            }
        }
        Some(_) => {
            tracing::info!("defer_while_gpu_busy_percent applies to GPU proving only; proving on the CPU at nice {}", shared.config.proving.nice);
            None
        }
        None => None,
    };
    let prover_thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("zkmeter-prover".into())
            .spawn(move || prove_loop::run(&shared, &prover, gate.as_ref(), prove_rx))
            .expect("a thread can be started")
    };
    let meter_threads: Vec<_> = sources
        .into_iter()
        .enumerate()
        .map(|(index, set)| {
            let (shared, tx) = (shared.clone(), prove_tx.clone());
            std::thread::Builder::new()
                .name(format!("zkmeter-meter-{}", shared.streams[index].config.job_id))
                .spawn(move || meter_loop::run(&shared, index, set, &tx))
                .expect("a thread can be started")
        })
        .collect();
    drop(prove_tx);

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(domain::learn(shared.clone(), client.clone()));
    for index in 0..shared.streams.len() {
        tasks.spawn(submit_loop::run(shared.clone(), index, client.clone()));
    }
    for job in shared.workloads.clone() {
        let (shared, client) = (shared.clone(), client.clone());
        tasks.spawn(async move {
            work_queue::run(job, &shared.config, &shared.metrics, client, || shared.stopping()).await;
        });
    }

    let done = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if shared.stopping() {
                return;
            }
            if options.exit_when_settled && all_settled(&shared) {
                tracing::info!("every stream has stopped metering, every epoch is settled and every workload input settled or rejected");
                return;
            }
        }
    };
    tokio::select! {
        () = shutdown => tracing::info!("shutting down: logging the last readings, finishing the proof in progress"),
        () = done => {}
    }
    shared.stopping.store(true, Ordering::SeqCst);
    for stream in &shared.streams {
        stream.proved.notify_one();
    }
    tasks.shutdown().await;
    for t in meter_threads {
        let _ = t.join();
    }
    let grace = Duration::from_millis(shared.config.proving.shutdown_grace_ms);
    let waited = Instant::now();
    while !prover_thread.is_finished() && waited.elapsed() < grace {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !prover_thread.is_finished() {
        tracing::warn!("abandoning the proof in progress: its epoch is cut in the log and is proved again after the restart");
    }
    if let Some(task) = metrics_task {
        task.abort();
    }
    match lock(&shared.fatal).take() {
        Some(why) => Err(DaemonError::LogFailed(why)),
        None => Ok(()),
    }
}

fn all_settled(shared: &Shared) -> bool {
    shared.workloads.iter().all(|w| w.idle())
        && shared.streams.iter().all(|s| {
            s.metering_done.load(Ordering::SeqCst)
                && s.log().is_none_or(|log| log.uncut().is_empty() && log.unsettled().next().is_none())
        })
}

/// Copies a stream's counts from its log into the status and the metrics.
fn refresh(shared: &Shared, index: usize, log: &StreamLog) {
    let (settled, totals) = log.settled();
    let epochs = log.next_epoch() - 1;
    let proved = settled + log.unsettled().filter(|e| e.proof.is_some()).count() as u64;
    let records = log.next_seq() - 1 - log.header().start.seq;
    shared.metrics.backlog(log.stream().job_id, log.next_seq() - 1 - log.settled_seq(), epochs - settled);
    shared.status.update(index, |s| {
        s.records = records;
        s.epochs = (epochs, proved, settled);
        s.settled_totals = totals;
    });
}
