//! The daemon: one meter thread per stream (read the meter, log the records, cut
//! epochs), one proving thread (epochs in the order they were cut), one
//! submission task per stream (submit in order, poll receipts, mark settled).
//!
//! Every hand-off goes through the stream log: a thread only acts on what the log
//! holds, so a crash anywhere resumes from the log with nothing lost or doubled —
//! records not cut are cut, cuts not proved are proved (the same statement),
//! proofs not settled are submitted again (the service answers with the receipt
//! it has), and an epoch is settled only when the service says so.
//!
//! While the verifier service or the chain is down, metering, cutting and proving
//! go on; submissions retry with exponential backoff. Workload jobs run as one
//! task each beside the streams ([`crate::work_queue`]).

use rand::rngs::OsRng;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use zkmeter_circuits::{PerClass, StreamId, UsageRecord};
use zkmeter_contracts::Address;

use crate::client::{ClientError, ReceiptState, VerifierClient};
use crate::config::{Config, StreamConfig};
use crate::epoch::{self, Domain};
use crate::identity::{KeyFileError, MeterKey};
use crate::meter::{self, MeterSource, Reading};
use crate::metrics::Metrics;
use crate::proving::{EpochProver, GpuGate, ProvingError};
use crate::stream_log::{LogError, Settlement, StreamLog};
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
    /// Stop by itself once every stream has stopped metering (its meter is
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
    /// What the meter reads ("" when it is unavailable).
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
    /// Metering has ended (meter exhausted, limit reached, or unavailable).
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
    log: Mutex<StreamLog>,
    proved: Notify,
    /// Why epochs are not cut (a configuration that contradicts the chain).
    blocked: Mutex<Option<String>>,
    metering_done: AtomicBool,
    /// Since when the oldest uncut record has waited (logged, or found in the log
    /// at start-up).
    uncut_since: Mutex<Option<Instant>>,
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
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking thread already reported itself; its data is still the log's.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
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

    let metrics = Arc::new(Metrics::new());

    let mut streams = Vec::new();
    let mut sources: Vec<Option<Box<dyn MeterSource>>> = Vec::new();
    let mut statuses = Vec::new();
    let mut unavailable = Vec::new();
    for sc in &config.streams {
        let job_id = sc.job_id;
        let key = MeterKey::load(&sc.key_file).map_err(|source| DaemonError::Key { job_id, source })?;
        let id = StreamId { meter: key.address().into(), job_id };
        let path = config.stream_log(job_id);
        let (log, dropped) = StreamLog::open(&path, id).map_err(|source| DaemonError::Log { job_id, source })?;
        if dropped > 0 {
            tracing::warn!(job_id, bytes = dropped, "dropped a torn last write from the stream log (a crash mid-write); nothing before it is lost");
        }
        let mut status = StreamStatus { job_id, meter: key.address(), ..Default::default() };
        let source = match meter::open(&sc.meter) {
            Ok(mut source) => match source.resume(log.cursor(), now_ms()) {
                Ok(()) => {
                    status.source = source.describe();
                    tracing::info!(job_id, meter = %key.address(), source = %status.source, "metering");
                    Some(source)
                }
                Err(e) => {
                    tracing::warn!(job_id, "{e}");
                    status.note = e.to_string();
                    unavailable.push(format!("job {job_id}: {e}"));
                    None
                }
            },
            Err(e) => {
                tracing::warn!(job_id, "{e}");
                status.note = e.to_string();
                unavailable.push(format!("job {job_id}: {e}"));
                None
            }
        };
        if source.is_none() {
            status.metering_done = true;
        } else if sc.capacity.get(sc.meter.class()) == 0 {
            tracing::warn!(job_id, class = %sc.meter.class(), "the stream's capacity for its meter's class is 0: every reading is cut to nothing");
        }
        let uncut_since = (!log.uncut().is_empty()).then(Instant::now);
        let stream = Stream {
            uncut_since: Mutex::new(uncut_since),
            config: sc.clone(),
            key,
            log: Mutex::new(log),
            proved: Notify::new(),
            blocked: Mutex::new(None),
            metering_done: AtomicBool::new(source.is_none()),
        };
        statuses.push(status);
        sources.push(source);
        streams.push(Arc::new(stream));
    }
    let has_work = |s: &Arc<Stream>| {
        let log = lock(&s.log);
        log.unsettled().next().is_some() || !log.uncut().is_empty()
    };
    let workloads = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || work_queue::load_all(&config)).await.expect("loading workloads does not panic")?
    };
    for w in &workloads {
        tracing::info!(job_id = w.job_id(), "proving workloads");
    }
    if sources.iter().all(Option::is_none) && !streams.iter().any(has_work) && workloads.is_empty() {
        return Err(DaemonError::NothingToDo(unavailable.join("; ")));
    }
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
    if let Some(domain) = pinned_or_saved_domain(&shared.config) {
        let _ = shared.domain.set(domain);
    }

    let (prove_tx, prove_rx) = mpsc::channel::<(usize, u64)>();
    for (index, stream) in shared.streams.iter().enumerate() {
        let log = lock(&stream.log);
        for e in log.unsettled().filter(|e| e.proof.is_none()) {
            let _ = prove_tx.send((index, e.cut.epoch));
        }
        refresh(&shared, index, &log);
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
            .spawn(move || prove_loop(&shared, &prover, gate.as_ref(), prove_rx))
            .expect("a thread can be started")
    };
    let meter_threads: Vec<_> = sources
        .into_iter()
        .enumerate()
        .map(|(index, source)| {
            let (shared, tx) = (shared.clone(), prove_tx.clone());
            std::thread::Builder::new()
                .name(format!("zkmeter-meter-{}", shared.streams[index].config.job_id))
                .spawn(move || meter_loop(&shared, index, source, &tx))
                .expect("a thread can be started")
        })
        .collect();
    drop(prove_tx);

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(learn_domain(shared.clone(), client.clone()));
    for index in 0..shared.streams.len() {
        tasks.spawn(submit_loop(shared.clone(), index, client.clone()));
    }
    for job in shared.workloads.clone() {
        let (shared, client) = (shared.clone(), client.clone());
        tasks.spawn(async move {
            work_queue::run(job, &shared.config, &shared.metrics, client, || shared.stopping.load(Ordering::SeqCst)).await;
        });
    }

    let done = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if shared.stopping.load(Ordering::SeqCst) {
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
    shared.workloads.iter().all(|w| w.idle()) && shared.streams.iter().all(|s| {
        let log = lock(&s.log);
        s.metering_done.load(Ordering::SeqCst) && log.uncut().is_empty() && log.unsettled().next().is_none()
    })
}

fn refresh(shared: &Shared, index: usize, log: &StreamLog) {
    let (settled, totals) = log.settled();
    let epochs = log.next_epoch() - 1;
    let proved = settled + log.unsettled().filter(|e| e.proof.is_some()).count() as u64;
    let records = log.next_seq() - 1;
    shared.metrics.backlog(log.stream().job_id, records - log.settled_seq(), epochs - settled);
    shared.status.update(index, |s| {
        s.records = records;
        s.epochs = (epochs, proved, settled);
        s.settled_totals = totals;
    });
}

/// The domain from the configuration, or the one learned from the verifier on an
/// earlier run (so epochs can be cut while the verifier is down).
fn pinned_or_saved_domain(config: &Config) -> Option<Domain> {
    if let (Some(chain_id), Some(settlement)) = (config.chain_id, config.settlement) {
        return Some(Domain { chain_id, settlement });
    }
    let text = std::fs::read_to_string(domain_file(&config.data_dir)).ok()?;
    let (chain_id, settlement): (u64, Address) = serde_json::from_str(&text).ok()?;
    Some(Domain { chain_id, settlement })
}

fn domain_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("domain.json")
}

/// Asks the verifier which chain and settlement contract it settles on, and each
/// job's meter and capacity; blocks cutting for a stream whose configuration
/// contradicts the chain.
async fn learn_domain(shared: Arc<Shared>, mut client: VerifierClient) {
    let mut backoff = Backoff::new(&shared.config);
    let domain = loop {
        match client.domain().await {
            Ok(d) => break d,
            Err(e) => {
                tracing::warn!("cannot learn the settlement domain yet: {e}");
                backoff.wait().await;
            }
        }
    };
    match shared.domain.get() {
        Some(known) if *known != domain => {
            let message = format!(
                "the verifier settles on chain {} at {}, but this daemon signs for chain {} at {}: fix chain_id/settlement \
                 (or delete {} if the chain was redeployed)",
                domain.chain_id,
                domain.settlement,
                known.chain_id,
                known.settlement,
                domain_file(&shared.config.data_dir).display()
            );
            tracing::error!("{message}");
            for s in &shared.streams {
                *lock(&s.blocked) = Some(message.clone());
            }
        }
        Some(_) => {}
        None => {
            let _ = std::fs::create_dir_all(&shared.config.data_dir);
            let saved = serde_json::to_string(&(domain.chain_id, domain.settlement)).expect("serializable");
            if let Err(e) = std::fs::write(domain_file(&shared.config.data_dir), saved) {
                tracing::warn!("cannot save the settlement domain: {e}");
            }
            let _ = shared.domain.set(domain);
        }
    }
    for (index, stream) in shared.streams.iter().enumerate() {
        let job_id = stream.config.job_id;
        let mut backoff = Backoff::new(&shared.config);
        let remote = loop {
            match client.stream(job_id).await {
                Ok(r) => break Some(r),
                Err(ClientError::Refused { message, .. }) => {
                    tracing::error!(job_id, "{message}");
                    *lock(&stream.blocked) = Some(message.clone());
                    shared.status.update(index, |s| s.note = message);
                    break None;
                }
                Err(e) => {
                    tracing::warn!(job_id, "cannot read the job yet: {e}");
                    backoff.wait().await;
                }
            }
        };
        let Some(remote) = remote else { continue };
        let problem = if remote.meter != stream.key.address() {
            Some(format!(
                "job {job_id} is served by meter {}, but key_file {} is meter {}",
                remote.meter,
                stream.config.key_file.display(),
                stream.key.address()
            ))
        } else if remote.capacity != stream.config.capacity {
            Some(format!(
                "job {job_id}: the meter is registered with capacity {:?}, but the config says {:?}; set capacity to what is registered",
                remote.capacity.0, stream.config.capacity.0
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            tracing::error!("{message}");
            shared.status.update(index, |s| s.note = message.clone());
            *lock(&stream.blocked) = Some(message);
        }
    }
}

/// Reads the meter every `sample_interval_ms`, logs the readings as records and
/// cuts the epochs that are due.
fn meter_loop(shared: &Shared, index: usize, mut source: Option<Box<dyn MeterSource>>, prove: &mpsc::Sender<(usize, u64)>) {
    let stream = &shared.streams[index];
    let interval = Duration::from_millis(shared.config.sample_interval_ms);
    let mut next = Instant::now();
    loop {
        let stopping = shared.stopping.load(Ordering::SeqCst);
        if let Some(s) = source.as_mut() {
            let now = now_ms();
            match s.poll(now) {
                Ok(readings) => {
                    if let Err(e) = log_readings(shared, index, readings) {
                        shared.fail(stream.config.job_id, format!("cannot log readings: {e}"));
                        return;
                    }
                }
                Err(e) => tracing::warn!(job_id = stream.config.job_id, "{e}"),
            }
            let limit = stream.config.stop_after_records.is_some_and(|n| lock(&stream.log).next_seq() > n);
            if limit || s.exhausted() {
                source = None;
                stream.metering_done.store(true, Ordering::SeqCst);
                shared.status.update(index, |st| st.metering_done = true);
            }
        }
        if stopping {
            return;
        }
        cut_due(shared, index, prove);
        next += interval;
        while Instant::now() < next && !shared.stopping.load(Ordering::SeqCst) {
            std::thread::sleep((next - Instant::now()).min(Duration::from_millis(50)));
        }
    }
}

/// Turns readings into the stream's next records (numbered, not overlapping the
/// last one, cut down to capacity; empty readings dropped) and logs them.
fn log_readings(shared: &Shared, index: usize, readings: Vec<Reading>) -> Result<(), LogError> {
    let stream = &shared.streams[index];
    let class = stream.config.meter.class();
    let capacity = stream.config.capacity.get(class);
    let limit = stream.config.stop_after_records.unwrap_or(u64::MAX);
    let mut log = lock(&stream.log);
    let (mut seq, mut last_end) = (log.next_seq(), log.last_end_ms());
    let mut batch = Vec::new();
    let mut clamped = 0;
    for r in readings {
        let start = r.start_ms.max(last_end);
        if seq > limit || r.end_ms <= start || r.quantity == 0 {
            continue;
        }
        let most = u128::from(capacity) * u128::from(r.end_ms - start);
        let quantity = if u128::from(r.quantity) > most {
            clamped += 1;
            most as u64
        } else {
            r.quantity
        };
        if quantity == 0 {
            continue;
        }
        batch.push((UsageRecord { seq, start_ms: start, end_ms: r.end_ms, class, quantity }, r.cursor));
        seq += 1;
        last_end = r.end_ms;
    }
    if batch.is_empty() {
        return Ok(());
    }
    let n = batch.len();
    log.append_records(batch)?;
    lock(&stream.uncut_since).get_or_insert_with(Instant::now);
    drop(log);
    crate::pause_point::pause_thread("after-log");
    let log = lock(&stream.log);
    shared.metrics.logged(stream.config.job_id, n, clamped);
    if clamped > 0 {
        tracing::warn!(job_id = stream.config.job_id, clamped, "readings above the registered capacity were cut down to it");
    }
    refresh(shared, index, &log);
    Ok(())
}

/// Cuts every epoch that is due and queues it for proving.
fn cut_due(shared: &Shared, index: usize, prove: &mpsc::Sender<(usize, u64)>) {
    let stream = &shared.streams[index];
    let Some(&domain) = shared.domain.get() else { return };
    if let Some(why) = lock(&stream.blocked).as_ref() {
        shared.status.update(index, |s| s.note = why.clone());
        return;
    }
    let done = stream.metering_done.load(Ordering::SeqCst);
    let policy = &shared.config.epoch;
    loop {
        let mut log = lock(&stream.log);
        let waited = lock(&stream.uncut_since).map_or(Duration::ZERO, |t| t.elapsed());
        let max_age = Duration::from_millis(policy.max_age_ms);
        let Some(n) = epoch::due(log.uncut().len(), shared.config.max_records(), waited, max_age, done) else {
            return;
        };
        let records = log.uncut()[..n].to_vec();
        let cut = epoch::cut(
            &stream.key,
            domain,
            log.stream(),
            log.next_epoch(),
            log.tip(),
            &records,
            stream.config.capacity,
            shared.config.slots as usize,
            &mut OsRng,
        );
        let cut = match cut {
            Ok(cut) => cut,
            Err(why) => {
                let why = why.to_string();
                tracing::error!(job_id = stream.config.job_id, "cannot cut an epoch: {why}");
                shared.status.update(index, |s| s.note = why.clone());
                *lock(&stream.blocked) = Some(why);
                return;
            }
        };
        let number = cut.epoch;
        match log.append_cut(cut).map(|()| number) {
            Ok(number) => {
                *lock(&stream.uncut_since) = (!log.uncut().is_empty()).then(Instant::now);
                shared.metrics.epoch(stream.config.job_id, "cut");
                refresh(shared, index, &log);
                let _ = prove.send((index, number));
            }
            Err(e) => {
                shared.fail(stream.config.job_id, format!("cannot log a cut epoch: {e}"));
                return;
            }
        }
    }
}

/// Proves the queued epochs one at a time, in the order they were cut.
fn prove_loop(shared: &Shared, prover: &EpochProver, gate: Option<&GpuGate>, queue: mpsc::Receiver<(usize, u64)>) {
    let slots = shared.config.slots as usize;
    let mut retries: VecDeque<(Instant, usize, u64)> = VecDeque::new();
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let (index, number) = match retries.front() {
            Some(&(at, index, number)) if at <= Instant::now() => {
                retries.pop_front();
                (index, number)
            }
            _ => match queue.recv_timeout(Duration::from_millis(100)) {
                Ok(next) => next,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) if retries.is_empty() => return,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        let stream = &shared.streams[index];
        let job_id = stream.config.job_id;
        let work = {
            let log = lock(&stream.log);
            log.epochs()
                .iter()
                .find(|e| e.cut.epoch == number && e.proof.is_none())
                .map(|e| (e.cut.clone(), log.records_of(&e.cut).to_vec()))
        };
        let Some((cut, records)) = work else { continue };
        crate::pause_point::pause_thread("after-cut");
        if let Some(gate) = gate {
            let waited = gate.wait(&|| shared.stopping.load(Ordering::SeqCst));
            if waited > Duration::from_secs(1) {
                tracing::info!(job_id, ms = waited.as_millis() as u64, "held the proof back while the GPU was busy");
            }
        }
        shared.status.update(index, |s| s.note = format!("proving epoch {number}"));
        let proved = epoch::witness(&cut, &records, slots)
            .map_err(|e| e.to_string())
            .and_then(|w| prover.prove(&cut, w).map_err(|e| e.to_string()));
        match proved {
            Ok((proof, took)) => {
                crate::pause_point::pause_thread("after-prove");
                let mut log = lock(&stream.log);
                if let Err(e) = log.append_proof(number, proof) {
                    shared.fail(job_id, format!("cannot log the proof of epoch {number}: {e}"));
                    return;
                }
                shared.metrics.proved(took);
                shared.metrics.epoch(job_id, "proved");
                tracing::info!(job_id, epoch = number, ms = took.as_millis() as u64, "proved");
                shared.status.update(index, |s| {
                    s.last_prove = Some(took);
                    s.prove_total += took;
                    s.note = format!("proved epoch {number}");
                });
                refresh(shared, index, &log);
                stream.proved.notify_one();
            }
            Err(why) => {
                // A passing failure (the GPU out of memory, say) clears up; one that
                // does not keeps saying so, and the epoch waits in the log.
                tracing::error!(job_id, "cannot prove epoch {number}: {why}; retrying in {} s", PROVE_RETRY.as_secs());
                shared.status.update(index, |s| s.note = format!("epoch {number} cannot be proved: {why}"));
                retries.push_back((Instant::now() + PROVE_RETRY, index, number));
            }
        }
    }
}

/// How long a failed proof waits before it is tried again.
const PROVE_RETRY: Duration = Duration::from_secs(30);

/// Exponential backoff between retries.
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(config: &Config) -> Self {
        let initial = Duration::from_millis(config.submit.backoff_initial_ms);
        Backoff { initial, max: Duration::from_millis(config.submit.backoff_max_ms).max(initial), next: initial }
    }

    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.max);
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// Submits a stream's proved epochs in order and polls their receipts until
/// each is settled.
async fn submit_loop(shared: Arc<Shared>, index: usize, mut client: VerifierClient) {
    let stream = shared.streams[index].clone();
    let job_id = stream.config.job_id;
    let poll = Duration::from_millis(shared.config.submit.poll_ms);
    let mut backoff = Backoff::new(&shared.config);
    let mut receipts: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    loop {
        match submit_step(&shared, index, &mut client, &mut receipts).await {
            Ok(true) => backoff.reset(),
            Ok(false) => {
                backoff.reset();
                let _ = tokio::time::timeout(poll, stream.proved.notified()).await;
            }
            Err(ClientError::Refused { code, message }) => {
                shared.metrics.submission("refused");
                match resync(&shared, index, &mut client).await {
                    Ok(true) => {
                        receipts.clear();
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(job_id, "cannot read the job's state: {e}"),
                }
                tracing::error!(job_id, ?code, "the verifier refused an epoch: {message}; retrying");
                shared.status.update(index, |s| s.note = format!("refused: {message}"));
                receipts.clear();
                backoff.wait().await;
            }
            Err(e) => {
                shared.metrics.submission("unavailable");
                tracing::warn!(job_id, "{e}");
                shared.status.update(index, |s| s.note = "verifier unavailable, retrying".into());
                backoff.wait().await;
            }
        }
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// One round: submit every proved epoch the service has not acknowledged in this
/// run (in order, stopping at the first not proved), then poll the oldest
/// receipts. Returns whether anything moved.
async fn submit_step(
    shared: &Shared,
    index: usize,
    client: &mut VerifierClient,
    receipts: &mut BTreeMap<u64, Vec<u8>>,
) -> Result<bool, ClientError> {
    let stream = &shared.streams[index];
    let pending: Vec<_> = lock(&stream.log).unsettled().map(|e| (e.cut.clone(), e.proof.clone())).collect();
    let mut moved = false;
    for (cut, proof) in &pending {
        let Some(proof) = proof else { break };
        if receipts.contains_key(&cut.epoch) {
            continue;
        }
        let (id, _) = client.submit(cut, proof).await?;
        shared.metrics.submission("accepted");
        shared.status.update(index, |s| s.note = format!("epoch {} accepted, settling", cut.epoch));
        receipts.insert(cut.epoch, id);
        moved = true;
    }
    if moved {
        crate::pause_point::pause_task("after-submit").await;
    }
    for (cut, _) in &pending {
        let Some(id) = receipts.get(&cut.epoch) else { break };
        match client.receipt(id).await? {
            ReceiptState::Settled { tx_hash, gas } => {
                let mut log = lock(&stream.log);
                let settlement = Settlement { epoch: cut.epoch, receipt: id.clone(), tx_hash, gas };
                if let Err(e) = log.append_settled(settlement) {
                    shared.fail(stream.config.job_id, format!("cannot log the settlement of epoch {}: {e}", cut.epoch));
                    break;
                }
                shared.metrics.epoch(stream.config.job_id, "settled");
                shared.status.update(index, |s| {
                    s.gas += gas;
                    s.note = format!("epoch {} settled", cut.epoch);
                });
                refresh(shared, index, &log);
                receipts.remove(&cut.epoch);
                moved = true;
            }
            ReceiptState::Pending(_) => break,
            ReceiptState::Rejected(reason) => {
                return Err(ClientError::Refused { code: tonic::Code::FailedPrecondition, message: format!("receipt rejected: {reason}") });
            }
        }
    }
    Ok(moved)
}

/// After a refusal: if the chain has settled the stream up to one of our
/// unsettled epochs (its receipt was lost with a verifier's database, say), marks
/// it and the ones before it settled. Returns whether it did.
async fn resync(shared: &Shared, index: usize, client: &mut VerifierClient) -> Result<bool, ClientError> {
    let stream = &shared.streams[index];
    let remote = client.stream(stream.config.job_id).await?;
    let mut log = lock(&stream.log);
    let upto: Vec<u64> = {
        let unsettled: Vec<_> = log.unsettled().collect();
        match unsettled.iter().position(|e| e.cut.statement.new == remote.settled) {
            Some(i) => unsettled[..=i].iter().map(|e| e.cut.epoch).collect(),
            None => return Ok(false),
        }
    };
    for epoch in upto {
        tracing::info!(job_id = stream.config.job_id, epoch, "the chain has settled this epoch already");
        if let Err(e) = log.append_settled(Settlement { epoch, receipt: Vec::new(), tx_hash: Vec::new(), gas: 0 }) {
            shared.fail(stream.config.job_id, format!("cannot log the settlement of epoch {epoch}: {e}"));
            return Ok(false);
        }
        shared.metrics.epoch(stream.config.job_id, "settled");
    }
    refresh(shared, index, &log);
    Ok(true)
}
