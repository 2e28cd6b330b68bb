//! Wiring: opens the store, the chain and the keys (meter and workload) named by a [`Config`],
//! finishes what a previous run left pending, starts the batcher and the
//! settler, and serves gRPC (with health and reflection) and `/metrics` until
//! shutdown.

use anyhow::{Context, Result, bail};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use zkmeter_circuits::keys::load_verifying_key_with_origin;
use zkmeter_circuits::{KeyHeader, KeyOrigin};
use zkmeter_contracts::{Chain, Deployment, EmbeddedChain, RpcChain, circuit_id, load_private_key, vk_hash};
use zkmeter_store::{ChainIdentity, Status, Store};

use crate::backlog::Backlog;
use crate::batcher::{BatchPolicy, Batcher};
use crate::receipt_writer::ReceiptWriter;
use crate::chain_worker::ChainWorker;
use crate::explorer_source::ExplorerSource;
use crate::config::{Config, PRIVATE_KEY_ENV};
use crate::job_cache::JobCache;
use crate::metrics::Metrics;
use crate::peer_budget::PeerBudget;
use crate::proto::verifier_service_server::VerifierServiceServer;
use crate::service::Verifier;
use crate::status_codes::StatusCodesLayer;
use crate::settler::{self, RetryPolicy, SettleSignal};
use crate::submission::Circuits;
use crate::work_submission::{WorkCircuits, WorkPipeline};

/// Where a started service listens.
pub struct Bound {
    /// The gRPC address.
    pub grpc: SocketAddr,
    /// The metrics address, if served.
    pub metrics: Option<SocketAddr>,
    /// The explorer's address, if served.
    pub explorer: Option<SocketAddr>,
}

/// Starts everything `config` names; `on_bound` hears the addresses once the
/// sockets are bound; serves until `shutdown` completes, then lets in-flight
/// requests finish.
pub async fn serve(config: Config, on_bound: impl FnOnce(&Bound), shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    let store = Store::open(&config.database_url()).await?;

    let mut keys = Vec::new();
    for path in config.verifying_key_files()? {
        let (header, origin, vk) = load_verifying_key_with_origin(&path)
            .with_context(|| format!("cannot load verifying key {}", path.display()))?;
        if header.is_workload() {
            bail!("{} is the key of {}: list it in work_verifying_keys, not verifying_keys", path.display(), header.describe());
        }
        log_key_origin(&path, &header, &origin);
        keys.push((header, origin, vk));
    }
    let tls = config.tls_identity()?;
    let chain = open_chain(&config, keys.clone())?;
    // However serving ends, the chain is closed (the embedded chain's lock freed)
    // before this returns.
    let served = serve_on(&config, &store, &chain, keys, tls, on_bound, shutdown).await;
    chain.close().await;
    store.close().await;
    served
}

/// A verifying key as loaded from its file: header, origin, key.
type VerifyingKeyFile = (KeyHeader, KeyOrigin, ark_groth16::VerifyingKey<ark_bn254::Bn254>);

/// Says which kind of key the service verifies a circuit with: operators must be
/// able to tell a development key (whose maker can forge proofs) from a ceremony's.
fn log_key_origin(path: &std::path::Path, header: &KeyHeader, origin: &KeyOrigin) {
    match origin.transcript_hex() {
        Some(transcript) => {
            tracing::info!(circuit = %header.circuit, slots = header.slots, key = %path.display(), origin = origin.kind(), %transcript, "verifying key")
        }
        None => tracing::warn!(
            circuit = %header.circuit,
            slots = header.slots,
            key = %path.display(),
            origin = origin.kind(),
            "verifying with a development key: whoever ran its setup can forge proofs; use ceremony keys for a real chain"
        ),
    }
}

/// A task that stops when its handle goes, whichever way serving ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything after the store and the chain are open, until `shutdown`.
async fn serve_on(
    config: &Config,
    store: &Store,
    chain: &ChainWorker,
    keys: Vec<VerifyingKeyFile>,
    tls: Option<tonic::transport::Identity>,
    on_bound: impl FnOnce(&Bound),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let chain = chain.clone();
    let store = store.clone();
    let deployment = chain.deployment();
    let identity = ChainIdentity {
        chain_id: deployment.chain_id,
        genesis_id: deployment.genesis_id.0,
        settlement: deployment.settlement.0.0,
    };
    store.bind_chain(&identity).await?;
    let mut circuits = Circuits::default();
    for (header, origin, vk) in &keys {
        circuits.add(header.clone(), origin.clone(), vk);
    }
    let work_circuits = work_circuits(config, chain.deployment())?;
    tracing::info!(
        chain_id = chain.chain_id(),
        settlement = %chain.deployment().settlement,
        circuits = circuits.0.len(),
        work_circuits = work_circuits.0.len(),
        "chain ready"
    );

    let metrics = Arc::new(Metrics::new());
    let batcher = Batcher::start(
        BatchPolicy { max_batch: config.max_batch.max(1), max_wait: Duration::from_millis(config.max_wait_ms) },
        metrics.clone(),
    );
    let jobs = JobCache::new(chain.clone(), Duration::from_millis(config.chain_cache_ms));
    recover_accepted(&store, &circuits, &jobs, &batcher).await?;
    let signal = SettleSignal::default();
    let _settling = AbortOnDrop(tokio::spawn(settler::run(
        config.replica_name(),
        store.clone(),
        chain.clone(),
        circuits.clone(),
        signal.clone(),
        RetryPolicy {
            initial: Duration::from_millis(config.retry_initial_ms),
            max: Duration::from_millis(config.retry_max_ms.max(config.retry_initial_ms)),
        },
        metrics.clone(),
    )));

    let limits = config.connection_limits()?;
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let grpc = listener.local_addr()?;
    let metrics_addr = match config.metrics_listen {
        Some(addr) => Some(serve_metrics(addr, metrics.clone()).await?),
        None => None,
    };
    let (explorer_addr, _explorer) = match config.explorer_listen {
        Some(addr) => {
            let source = ExplorerSource::new(chain.clone(), store.clone(), circuits.clone(), metrics.clone());
            let (bound, task) = serve_explorer(addr, source).await?;
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    on_bound(&Bound { grpc, metrics: metrics_addr, explorer: explorer_addr });

    let work = WorkPipeline {
        circuits: work_circuits,
        chain: chain.clone(),
        jobs: jobs.clone(),
        store: store.clone(),
        batcher: batcher.clone(),
        settle: signal.clone(),
    };
    let budget = Arc::new(PeerBudget::new(config.bad_proof_burst, config.bad_proofs_per_minute));
    let receipts = ReceiptWriter::start(store.clone());
    let backlog = Arc::new(Backlog::new(store.unsettled(chain.chain_id()).await?, config.max_unsettled));
    let _counting = AbortOnDrop(tokio::spawn(backlog.clone().watch(store.clone(), chain.chain_id(), metrics.clone())));
    let verifier = Verifier {
        circuits,
        chain,
        jobs,
        store: store.clone(),
        receipts,
        batcher,
        settle: signal,
        metrics,
        work,
        budget,
        backlog,
    };
    let service = VerifierServiceServer::new(verifier)
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<VerifierServiceServer<Verifier>>().await;
    // Both reflection versions: older clients (grpcurl before 1.9, many IDEs) ask v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().context("cannot build the reflection service")?;
    let reflection_v1alpha = reflection().build_v1alpha().context("cannot build the reflection service")?;
    let mut server = tonic::transport::Server::builder();
    if let Some(identity) = tls {
        server = server
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .context("the TLS certificate or key is not usable (PEM certificate chain and its PKCS#8, PKCS#1 or SEC1 key)")?;
    }
    server
        .concurrency_limit_per_connection(config.concurrency_per_connection)
        .layer(StatusCodesLayer { timeout: Duration::from_millis(config.request_timeout_ms) })
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service)
        .serve_with_incoming_shutdown(crate::connections::incoming(listener, limits), shutdown)
        .await
        .context("the gRPC server failed")?;
    Ok(())
}

/// Opens the configured chain on the chain thread and checks that its deployment
/// has a verifier holding each of `keys`.
fn open_chain(config: &Config, keys: Vec<VerifyingKeyFile>) -> Result<ChainWorker> {
    let config = config.clone();
    ChainWorker::start(move || {
        let mut chain: Box<dyn Chain> = match &config.rpc_url {
            None => Box::new(EmbeddedChain::open(&config.data_dir.join("chain"))?),
            Some(url) => {
                let key = load_private_key(config.private_key_file.as_deref(), PRIVATE_KEY_ENV)?;
                Box::new(RpcChain::connect(url, vec![key], config.chain_id)?)
            }
        };
        let path = config.deployment_file(chain.chain_id());
        let deployment = Deployment::load(&path)
            .with_context(|| format!("no usable deployment at {}: run `zkmeter chain deploy` first", path.display()))?;
        deployment.check_chain(chain.as_mut(), &path)?;
        for (header, _, vk) in &keys {
            match deployment.circuit(header.slots) {
                Some(c) if c.vk_hash == vk_hash(vk) => {}
                _ => bail!(
                    "the deployment in {} has no verifier holding the key for N = {}: run `zkmeter chain deploy --records {}`",
                    path.display(),
                    header.slots,
                    header.slots
                ),
            }
        }
        Ok((chain, deployment))
    })
}

/// The workload circuits to verify: each configured key must be the one the
/// deployment's verifier for its circuit holds (same circuit id, same key), so
/// that the service never accepts a proof the chain refuses. Keys found in
/// `keys/` (not configured) whose circuit the deployment lacks are skipped.
fn work_circuits(config: &Config, deployment: &Deployment) -> Result<WorkCircuits> {
    let (paths, configured) = config.work_verifying_key_files()?;
    let deployment_file = config.deployment_file(deployment.chain_id);
    let mut circuits = WorkCircuits::default();
    for path in paths {
        let (header, origin, vk) = load_verifying_key_with_origin(&path)
            .with_context(|| format!("cannot load workload verifying key {}", path.display()))?;
        if !header.is_workload() {
            bail!("{} is the key of {}: list it in verifying_keys, not work_verifying_keys", path.display(), header.describe());
        }
        let id = circuit_id(&header);
        let Some(deployed) = deployment.work_circuits.iter().find(|c| c.circuit_id == id) else {
            let why = match deployment.work_circuit(&header.circuit) {
                Some(other) => format!(
                    "its verifier there is for another version of the circuit (id {}, key digest {}; this key has {})",
                    other.circuit_id,
                    other.key_digest,
                    header.digest_hex()
                ),
                None => "it has no verifier for this circuit".to_owned(),
            };
            if !configured {
                tracing::warn!(key = %path.display(), circuit = %header.circuit, %why, "workload key skipped: not deployed");
                continue;
            }
            bail!(
                "the deployment in {} cannot settle workload circuit {} (key {}): {why}; deploy the circuit's verifier \
                 with this key, or remove the key from work_verifying_keys",
                deployment_file.display(),
                header.circuit,
                path.display()
            );
        };
        if deployed.vk_hash != vk_hash(&vk) {
            bail!(
                "the verifier of workload circuit {} in {} holds another verifying key than {} (a new setup since it was \
                 deployed?): redeploy the circuit's verifier with this key, or use the key it was deployed with",
                header.circuit,
                deployment_file.display(),
                path.display()
            );
        }
        log_key_origin(&path, &header, &origin);
        circuits.add(header, origin, &vk, deployed.verifier).with_context(|| format!("workload verifying key {}", path.display()))?;
    }
    Ok(circuits)
}

/// Receipts an earlier version left `accepted` (it recorded a receipt, then
/// marked it verified, and a crash could fall between): their proofs are checked
/// again, then marked.
async fn recover_accepted(store: &Store, circuits: &Circuits, jobs: &JobCache, batcher: &Batcher) -> Result<()> {
    loop {
        let pending = store.pending_verification(256).await?;
        if pending.is_empty() {
            return Ok(());
        }
        for r in pending {
            let valid = crate::submission::reverify(&r, circuits, jobs, batcher)
                .await
                .map_err(|why| anyhow::anyhow!("cannot re-check receipt {} left pending: {why}", hex::encode(r.id)))?;
            let (to, reason) = if valid { (Status::Verified, None) } else { (Status::Rejected, Some("the proof does not verify")) };
            store.set_status(&r.id, to, reason, None, None).await?;
        }
    }
}

/// Serves the explorer on `addr`; it stops when the returned handle is dropped.
async fn serve_explorer(addr: SocketAddr, source: ExplorerSource) -> Result<(SocketAddr, AbortOnDrop)> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for the explorer"))?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        tracing::warn!(%bound, "the explorer is reachable from other hosts: every job, balance and proof it shows is public");
    }
    let task = tokio::spawn(async move {
        if let Err(e) = zkmeter_explorer::serve(listener, Arc::new(source)).await {
            tracing::error!(error = %e, "the explorer stopped");
        }
    });
    Ok((bound, AbortOnDrop(task)))
}

async fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for metrics"))?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render())
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics endpoint stopped");
        }
    });
    Ok(bound)
}
