//! Group commit. Receipts whose proofs verified are written by one task, in
//! batches of whatever arrived while the previous batch was committing, each
//! batch one transaction ([`Store::accept_batch`]): one fsync covers them all.
//! Nothing waits to fill a batch: a lone receipt is written at once. A
//! submission is acknowledged only after the transaction holding its receipt
//! has committed.

use tokio::sync::{mpsc, oneshot};
use zkmeter_store::{Accepted, NewReceipt, Store, StoreError};

/// Most receipts in one transaction.
pub const MAX_GROUP: usize = 512;

struct Item {
    receipt: NewReceipt,
    reply: oneshot::Sender<Result<Accepted, StoreError>>,
}

/// The writer's queue; cheap to clone.
#[derive(Clone)]
pub struct ReceiptWriter {
    queue: mpsc::Sender<Item>,
    database: String,
}

impl ReceiptWriter {
    /// Starts the writing task on the current tokio runtime.
    pub fn start(store: Store) -> ReceiptWriter {
        let (queue, receive) = mpsc::channel(MAX_GROUP * 2);
        let database = store.database().to_owned();
        tokio::spawn(run(receive, store));
        ReceiptWriter { queue, database }
    }

    /// Records a verified receipt, durably, in the next group: what
    /// [`Store::accept`] would say for it alone.
    pub async fn accept(&self, receipt: NewReceipt) -> Result<Accepted, StoreError> {
        let gone = || StoreError::Unavailable {
            database: self.database.clone(),
            reason: "the receipt writer has stopped (the service is shutting down)".into(),
        };
        let (reply, answer) = oneshot::channel();
        self.queue.send(Item { receipt, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(mut receive: mpsc::Receiver<Item>, store: Store) {
    let mut items = Vec::with_capacity(MAX_GROUP);
    while receive.recv_many(&mut items, MAX_GROUP).await > 0 {
        let (receipts, replies): (Vec<NewReceipt>, Vec<_>) = items.drain(..).map(|i| (i.receipt, i.reply)).unzip();
        match store.accept_batch(&receipts).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, receipts = receipts.len(), "a group of receipts could not be recorded");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
