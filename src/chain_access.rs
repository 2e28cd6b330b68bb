//! Which chain a command talks to (the embedded chain in the data directory, or a
//! node over JSON-RPC), the deployment file it uses there, and which account
//! sends.
//!
//! On the embedded chain every account can send (it checks no signatures), so
//! each role has a default dev account there: the deployer (account 0) governs,
//! mints and administers, account 1 is the provider, account 2 the consumer, as
//! in `zkmeter demo`. On a node the sender is the key given.

use anyhow::{Result, bail};
use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use std::path::{Path, PathBuf};
use zkmeter_circuits::KeyHeader;
use zkmeter_contracts::{
    Address, Chain, ChainError, CircuitToDeploy, DEPLOYMENT_FILE, DEV_ACCOUNTS, Deployment, EmbeddedChain, Job,
    RpcChain, STATE_FILE, deploy, load_private_key, vk_hash,
};

use crate::exit::{invalid, not_found};

/// The environment variable holding the hex private key for JSON-RPC transactions.
pub const PRIVATE_KEY_ENV: &str = "ZKMETER_PRIVATE_KEY";

/// Chain ids of local development nodes.
pub const DEVELOPMENT_CHAIN_IDS: [u64; 2] = [31337, 1337];

/// Chain options shared by the commands that talk to a chain.
#[derive(clap::Args)]
pub struct ChainArgs {
    /// JSON-RPC URL of an EVM node (e.g. anvil's http://127.0.0.1:8545). Without
    /// it, the embedded chain kept in the data directory.
    #[arg(long, env = "ZKMETER_RPC_URL")]
    rpc_url: Option<String>,
    /// File holding the hex private key to send transactions with (JSON-RPC only);
    /// without it, the key in $ZKMETER_PRIVATE_KEY.
    #[arg(long, requires = "rpc_url")]
    private_key_file: Option<PathBuf>,
    /// Refuse a node on another chain than this one (JSON-RPC only).
    #[arg(long, requires = "rpc_url")]
    chain_id: Option<u64>,
    /// The deployment file [default: chain/deployment.json in the data directory
    /// for the embedded chain, deployments/chain-<ID>.json for a node].
    #[arg(long)]
    deployment: Option<PathBuf>,
}

/// An open chain and where its deployment file is.
pub struct Target {
    /// The chain.
    pub chain: Box<dyn Chain>,
    /// Its deployment file.
    pub deployment_path: PathBuf,
    /// "embedded chain PATH" or the node's URL, for messages.
    pub description: String,
    /// Whether it is the embedded chain (any account can send).
    pub embedded: bool,
}

/// The role a command acts in, which picks its sender on the embedded chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acting {
    /// Governance, minting, attesting, administering roles: the deployer.
    Deployer,
    /// Registering meters, closing jobs: the provider.
    Provider,
    /// Opening, funding and extending jobs, requesting work, holding tokens: the consumer.
    Consumer,
}

impl Acting {
    /// Its dev account on the embedded chain.
    pub fn dev_account(self) -> Address {
        match self {
            Acting::Deployer => DEV_ACCOUNTS[0],
            Acting::Provider => DEV_ACCOUNTS[1],
            Acting::Consumer => DEV_ACCOUNTS[2],
        }
    }
}

/// Who sends a transaction.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SenderArgs {
    /// Send from this account: on the embedded chain any address (it checks no
    /// signatures; default: the dev account of the command's role), on a node the
    /// address of the key given (the default).
    #[arg(long)]
    pub from: Option<String>,
}

/// The embedded chain of a data directory lives here.
pub fn embedded_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("chain")
}

impl ChainArgs {
    /// Opens the chain. `signing`: the command sends transactions, so a node needs
    /// a key (the embedded chain signs with its dev accounts, and is opened for
    /// writing, holding its lock); a command that only reads opens a snapshot of
    /// the embedded chain, beside a demo or a verifier that holds it.
    pub fn open(&self, data_dir: &Path, signing: bool) -> Result<Target> {
        let Some(url) = &self.rpc_url else {
            return if signing {
                open_embedded(data_dir, self.deployment.clone())
            } else {
                open_embedded_read_only(data_dir, self.deployment.clone())
            };
        };
        let key_given = self.private_key_file.is_some() || std::env::var_os(PRIVATE_KEY_ENV).is_some();
        let signers = if signing || key_given {
            vec![load_private_key(self.private_key_file.as_deref(), PRIVATE_KEY_ENV)?]
        } else {
            Vec::new()
        };
        let chain = RpcChain::connect(url, signers, self.chain_id)?;
        let deployment_path = self.deployment.clone().unwrap_or_else(|| {
            data_dir.join("deployments").join(format!("chain-{}.json", chain.chain_id()))
        });
        Ok(Target { chain: Box::new(chain), deployment_path, description: url.clone(), embedded: false })
    }

    /// Opens the chain and its deployment.
    pub fn session(&self, data_dir: &Path, signing: bool) -> Result<Session> {
        let mut target = self.open(data_dir, signing)?;
        let deployment = target.deployment()?;
        Ok(Session { target, d: deployment })
    }
}

/// An open chain with zkmeter deployed on it.
pub struct Session {
    /// The chain.
    pub target: Target,
    /// What is deployed there.
    pub d: Deployment,
}

impl Session {
    /// The chain to call.
    pub fn chain(&mut self) -> &mut dyn Chain {
        self.target.chain.as_mut()
    }

    /// The account that sends: `--from`, else the role's dev account on the
    /// embedded chain, else the key's account on a node.
    pub fn sender(&self, args: &SenderArgs, acting: Acting) -> Result<Address> {
        let accounts = self.target.chain.accounts();
        match &args.from {
            Some(from) => {
                let from = parse_address(from)?;
                if !self.target.embedded && !accounts.contains(&from) {
                    return Err(ChainError::NoSigner(from).into());
                }
                Ok(from)
            }
            None if self.target.embedded => Ok(acting.dev_account()),
            None => accounts.first().copied().ok_or_else(|| {
                invalid("this command sends a transaction: pass --private-key-file or set ZKMETER_PRIVATE_KEY")
            }),
        }
    }

    /// Job `id`, or "not found" if it was never opened.
    pub fn job(&mut self, id: u64) -> Result<Job> {
        let job = self.d.job(self.target.chain.as_mut(), id)?;
        if job.consumer == Address::ZERO {
            let count = self.d.job_count(self.target.chain.as_mut())?;
            return Err(not_found(format!(
                "job {id} does not exist on {}: it has {count} job{} (see `zkmeter job list`)",
                self.target.description,
                if count == 1 { "" } else { "s" }
            )));
        }
        Ok(job)
    }
}

/// Opens the embedded chain of `data_dir` for writing (made on first use),
/// holding its lock until the target is dropped.
pub fn open_embedded(data_dir: &Path, deployment: Option<PathBuf>) -> Result<Target> {
    let dir = embedded_dir(data_dir);
    embedded_target(&dir, Box::new(EmbeddedChain::open(&dir)?), deployment)
}

/// Opens a read-only snapshot of the embedded chain of `data_dir` (making nothing).
pub fn open_embedded_read_only(data_dir: &Path, deployment: Option<PathBuf>) -> Result<Target> {
    let dir = embedded_dir(data_dir);
    embedded_target(&dir, Box::new(EmbeddedChain::open_read_only(&dir)?), deployment)
}

fn embedded_target(dir: &Path, chain: Box<EmbeddedChain>, deployment: Option<PathBuf>) -> Result<Target> {
    Ok(Target {
        chain,
        deployment_path: deployment.unwrap_or_else(|| dir.join(DEPLOYMENT_FILE)),
        description: format!("embedded chain {}", dir.join(STATE_FILE).display()),
        embedded: true,
    })
}

impl Target {
    /// The deployment this chain has, checked to be of this chain and to answer.
    pub fn deployment(&mut self) -> Result<Deployment> {
        if !self.deployment_path.exists() {
            return Err(not_found(format!(
                "no deployment at {}: run `zkmeter chain deploy`{}",
                self.deployment_path.display(),
                if self.embedded { "" } else { " --rpc-url URL" }
            )));
        }
        let d = Deployment::load(&self.deployment_path)?;
        self.check(&d)?;
        Ok(d)
    }

    fn embedded(&self) -> bool {
        self.description.starts_with("embedded")
    }

    /// Whether this is a chain nothing of value settles on: the embedded chain, or
    /// a node with a local development chain id (anvil and hardhat use 31337,
    /// ganache and geth --dev 1337). Development keys are kept off all others.
    pub fn is_development_chain(&self) -> bool {
        self.embedded() || DEVELOPMENT_CHAIN_IDS.contains(&self.chain.chain_id())
    }

    fn check(&mut self, d: &Deployment) -> Result<()> {
        let id = self.chain.chain_id();
        if d.chain_id != id {
            bail!(
                "{} is a deployment on chain {}, but {} is chain {id}: pass the right --deployment or --rpc-url",
                self.deployment_path.display(),
                d.chain_id,
                self.description
            );
        }
        d.check_chain(self.chain.as_mut(), &self.deployment_path)?;
        match d.job_count(self.chain.as_mut()) {
            Ok(_) => Ok(()),
            Err(e @ ChainError::Unreachable { .. }) => Err(e.into()),
            Err(e) => Err(not_found(format!(
                "the contracts in {} do not answer on {}: the deployment file does not belong to this chain; pass the right --deployment ({e})",
                self.deployment_path.display(),
                self.description
            ))),
        }
    }

    /// Makes sure the chain has zkmeter deployed with a verifier for each of
    /// `circuits` holding exactly that verifying key: deploys everything on a chain
    /// without a deployment (or on a node that was reset: a new genesis), and adds
    /// or replaces verifiers whose key differs. Never deploys afresh over an
    /// embedded chain that has history: its deployment file is missing or not its
    /// own, and deploying again would hide every earlier balance and job. Returns
    /// the deployment (saved) and one line per thing done or found.
    pub fn ensure_deployed(&mut self, circuits: &[(KeyHeader, VerifyingKey<Bn254>)]) -> Result<(Deployment, Vec<String>)> {
        let mut report = Vec::new();
        let existing = if self.deployment_path.exists() {
            let d = Deployment::load(&self.deployment_path)?;
            let reset = !self.embedded && d.chain_id == self.chain.chain_id() && d.genesis_id != self.chain.genesis_id()?;
            if reset {
                report.push(format!(
                    "the node was reset (genesis {} → {}): deploying afresh; the receipts and stream logs of the old \
                     chain are refused on this one",
                    d.genesis_id,
                    self.chain.genesis_id()?
                ));
                None
            } else {
                self.check(&d)?;
                Some(d)
            }
        } else if self.embedded && self.chain.block()?.number > 0 {
            bail!(
                "{} is missing, but the embedded chain has {} blocks of history: restore the deployment file (it holds \
                 the contracts' addresses). Deploying again would hide every earlier job and balance; for a new chain \
                 use a new data directory (--data-dir)",
                self.deployment_path.display(),
                self.chain.block()?.number
            );
        } else {
            None
        };
        let mut d = match existing {
            Some(d) => d,
            None => {
                let d = deploy(self.chain.as_mut(), &[], None)?;
                report.push(format!("deployed ResourceToken at {} and Settlement at {}", d.token, d.settlement));
                d
            }
        };
        for (header, vk) in circuits {
            match d.circuit(header.slots) {
                Some(c) if c.vk_hash == vk_hash(vk) && c.key_digest == header.digest_hex() => {
                    report.push(format!("verifier for N = {} at {} holds this key", header.slots, c.verifier));
                }
                previous => {
                    let replaced = previous.map(|c| c.verifier);
                    let c = d.add_circuit(self.chain.as_mut(), &CircuitToDeploy { header, vk })?;
                    report.push(match replaced {
                        Some(old) => format!(
                            "verifier for N = {} at {} (replaces {old}, which held another key)",
                            header.slots, c.verifier
                        ),
                        None => format!("deployed the verifier for N = {} at {}", header.slots, c.verifier),
                    });
                }
            }
        }
        d.save(&self.deployment_path)?;
        Ok((d, report))
    }
}

/// Parses an account address (`0x` and 40 hex digits).
pub fn parse_address(text: &str) -> Result<Address> {
    text.trim().parse().map_err(|_| invalid(format!("{text:?} is not an address: give 0x and 40 hex digits")))
}
