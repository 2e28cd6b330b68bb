//! Crash-test hooks. With `ZKMETER_VERIFIER_PAUSE_AT=<point>` in its environment
//! the service stops for good when it reaches that point of the pipeline (the
//! rest of the process keeps running), so a test can SIGKILL it exactly there
//! and check what a restart recovers. Unset, each hook is one environment read.
//!
//! Points: `after-record` (receipt recorded, the submitter not yet answered),
//! `before-settle-tx` (marked submitted, transaction not sent), `after-settle-tx`
//! (transaction included, outcome not recorded).

/// The environment variable naming the point to stop at.
pub const PAUSE_AT_ENV: &str = "ZKMETER_VERIFIER_PAUSE_AT";

/// Never returns if the service was told to stop at `point`.
pub async fn pause_point(point: &str) {
    if std::env::var(PAUSE_AT_ENV).is_ok_and(|p| p == point) {
        tracing::warn!(point, "paused here for a crash test ({PAUSE_AT_ENV})");
        std::future::pending::<()>().await;
    }
}
