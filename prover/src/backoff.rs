//! Exponential backoff between retries of a request to the verifier service.

use std::time::Duration;

use crate::config::Config;

/// Waits that double after every failure, up to a maximum, and start over after a
/// success.
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// The backoff of `config`'s `[submit]` section.
    pub fn new(config: &Config) -> Self {
        let initial = Duration::from_millis(config.submit.backoff_initial_ms);
        Backoff { initial, max: Duration::from_millis(config.submit.backoff_max_ms).max(initial), next: initial }
    }

    /// Sleeps for the current wait, then doubles it (up to the maximum).
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.max);
    }

    /// Starts over from the first wait (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}
