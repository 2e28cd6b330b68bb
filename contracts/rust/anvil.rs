//! A local anvil node for tests and development: the binary the npm package
//! `@foundry-rs/anvil-linux-amd64` installs under `contracts/node_modules`
//! (`npm ci` in contracts/), started on a free loopback port and killed when
//! dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::chain::DEV_PRIVATE_KEYS;
use crate::error::{ChainError, Result};
use crate::rpc::{RpcChain, parse_private_key};

/// The chain id anvil runs with.
pub const ANVIL_CHAIN_ID: u64 = 31337;

/// How long [`AnvilNode::connect`] waits for anvil to listen.
const STARTUP: Duration = Duration::from_secs(30);

/// Where `npm ci` in contracts/ puts anvil, if it is there.
pub fn anvil_binary() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    path.is_file().then_some(path)
}

/// A running anvil on 127.0.0.1, killed when dropped (also when a test panics).
pub struct AnvilNode {
    child: Child,
    url: String,
    chain_id: u64,
}

impl AnvilNode {
    /// Starts `binary` on a free loopback port with chain id [`ANVIL_CHAIN_ID`].
    pub fn start(binary: &std::path::Path) -> Result<AnvilNode> {
        Self::start_with_chain_id(binary, ANVIL_CHAIN_ID)
    }

    /// Starts `binary` posing as chain `chain_id`: a test of what zkmeter does on a
    /// chain other than a local development one.
    pub fn start_with_chain_id(binary: &std::path::Path, chain_id: u64) -> Result<AnvilNode> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| ChainError::Rpc(format!("no free loopback port for anvil: {e}")))?
            .port();
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", &chain_id.to_string(), "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| ChainError::io(binary, e))?;
        Ok(AnvilNode { child, url: format!("http://127.0.0.1:{port}"), chain_id })
    }

    /// Its JSON-RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connects with the dev keys ([`DEV_PRIVATE_KEYS`]), waiting for anvil to listen.
    pub fn connect(&mut self) -> Result<RpcChain> {
        let keys: Vec<_> = DEV_PRIVATE_KEYS.iter().map(|k| parse_private_key(k).expect("the dev keys parse")).collect();
        let start = Instant::now();
        loop {
            match RpcChain::connect(&self.url, keys.clone(), Some(self.chain_id)) {
                Err(ChainError::Unreachable { .. }) if start.elapsed() < STARTUP => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        return Err(ChainError::Rpc(format!("anvil exited with {status} before it listened")));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }
}

impl Drop for AnvilNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
