//! The chain, owned by one thread. `zkmeter-contracts`' API is blocking (and the
//! embedded chain's state file belongs to one owner), so the service gives the
//! chain to a dedicated thread and sends it jobs; async code awaits the answers.

use std::sync::mpsc;
use tokio::sync::oneshot;
use zkmeter_contracts::{Chain, Deployment};

type Job = Box<dyn FnOnce(&mut dyn Chain, &Deployment) + Send>;

enum Message {
    Run(Job),
    /// Drop the chain (releasing the embedded chain's lock), then say so.
    Close(oneshot::Sender<()>),
}

/// A handle to the chain thread; cheap to clone.
#[derive(Clone)]
pub struct ChainWorker {
    jobs: mpsc::Sender<Message>,
    chain_id: u64,
    deployment: Deployment,
}

/// The chain thread has stopped (it panicked, or the service is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the chain worker has stopped; restart the service")]
pub struct ChainWorkerGone;

impl ChainWorker {
    /// Starts the thread: `open` makes the chain on it (so the chain need not be
    /// `Send`) and returns it with its deployment.
    pub fn start<F>(open: F) -> anyhow::Result<ChainWorker>
    where
        F: FnOnce() -> anyhow::Result<(Box<dyn Chain>, Deployment)> + Send + 'static,
    {
        let (jobs, receive) = mpsc::channel::<Message>();
        let (ready, opened) = mpsc::channel();
        std::thread::Builder::new().name("chain".into()).spawn(move || {
            let (mut chain, deployment) = match open() {
                Ok(x) => x,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let _ = ready.send(Ok((chain.chain_id(), deployment.clone())));
            for message in receive {
                match message {
                    Message::Run(job) => job(chain.as_mut(), &deployment),
                    Message::Close(done) => {
                        drop(chain);
                        let _ = done.send(());
                        return;
                    }
                }
            }
        })?;
        let (chain_id, deployment) =
            opened.recv().map_err(|_| anyhow::anyhow!("the chain thread died while opening the chain"))??;
        Ok(ChainWorker { jobs, chain_id, deployment })
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The deployment the service settles on.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// Runs `f` on the chain thread and returns what it returns.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ChainWorkerGone>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Chain, &Deployment) -> T + Send + 'static,
    {
        let (send, receive) = oneshot::channel();
        let job: Job = Box::new(move |chain, d| {
            let _ = send.send(f(chain, d));
        });
        self.jobs.send(Message::Run(job)).map_err(|_| ChainWorkerGone)?;
        receive.await.map_err(|_| ChainWorkerGone)
    }

    /// Closes the chain once the jobs sent before are done, and waits until it is
    /// closed: the embedded chain's lock is free when this returns (a process that
    /// runs the service and then uses the chain itself, like the demo, needs that).
    /// Later jobs get [`ChainWorkerGone`].
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Message::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }
}
