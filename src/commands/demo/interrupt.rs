//! Ctrl-C and SIGTERM during the demo: the first asks for a clean stop (the daemon
//! logs its last readings and finishes or abandons the proof in progress, the
//! service stops, and the demo says which jobs stay open); a second one ends the
//! process at once, which loses nothing either (every step is durable).

use tokio::sync::watch;

/// Whether a stop was asked for; cheap to clone.
#[derive(Clone)]
pub struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// Starts listening for SIGINT and SIGTERM on `runtime`.
    pub fn listen(runtime: &tokio::runtime::Runtime) -> Interrupt {
        let (ask, asked) = watch::channel(false);
        runtime.spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
            let next = async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            };
            next.await;
            eprintln!("\nstopping cleanly: the daemon logs its last readings and finishes the proof in progress (Ctrl-C again to quit at once)");
            let _ = ask.send(true);
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            eprintln!("quitting at once: the stream logs, receipts and chain are durable; run the demo again to resume");
            std::process::exit(130);
        });
        Interrupt(asked)
    }

    /// Whether a stop was asked for.
    pub fn asked(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is asked for.
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|asked| *asked).await;
    }
}
