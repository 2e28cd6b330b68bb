//! Crash-test hooks. With `ZKMETER_PROVER_PAUSE_AT=<point>` in its environment the
//! daemon stops the thread or task that reaches that point for good (the rest of
//! the process keeps running) and says so on stderr, so a test can SIGKILL it
//! exactly there and check what a restart recovers. Unset, each hook is one
//! environment read.
//!
//! Points: `after-log` (records logged, no epoch cut from them), `after-cut` (an
//! epoch cut, not proved), `after-prove` (proved, the proof not logged),
//! `after-submit` (the verifier has the epoch, its settlement not logged).

/// The environment variable naming the point to stop at.
pub const PAUSE_AT_ENV: &str = "ZKMETER_PROVER_PAUSE_AT";

/// What the daemon prints on stderr when it pauses (followed by the point).
pub const PAUSED: &str = "zkmeter-prover paused at ";

fn armed(point: &str) -> bool {
    std::env::var(PAUSE_AT_ENV).is_ok_and(|p| p == point)
}

/// Never returns if the daemon was told to stop at `point` (threads).
pub fn pause_thread(point: &str) {
    if armed(point) {
        eprintln!("{PAUSED}{point}");
        loop {
            std::thread::park();
        }
    }
}

/// Never returns if the daemon was told to stop at `point` (async tasks).
pub async fn pause_task(point: &str) {
    if armed(point) {
        eprintln!("{PAUSED}{point}");
        std::future::pending::<()>().await;
    }
}
