//! Deploying zkmeter on a chain, and the deployment file that remembers it.
//!
//! Meter circuits (six public inputs, one per record-slot count N) and workload
//! circuits (four public inputs, one per workload shape) are registered in two
//! separate registries of the settlement contract, and listed apart here.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::sol_types::{SolCall, SolConstructor};
use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use serde::{Deserialize, Serialize};
use std::path::Path;
use zkmeter_circuits::KeyHeader;
use zkmeter_circuits::workload::WORKLOAD_PUBLIC_INPUTS;
use zkmeter_verifier::proof_codec::{Word, encode_verifying_key};

use crate::bindings::{Groth16Verifier, ResourceToken, Settlement};
use crate::chain::{Chain, Receipt};
use crate::error::{ChainError, Result};

/// Name of the deployment file in a data directory.
pub const DEPLOYMENT_FILE: &str = "deployment.json";

/// The on-chain id of a circuit:
/// `keccak256(circuit name ‖ slots as 4 big-endian bytes ‖ SHA-256 of its matrices)`,
/// from the header every key file of the circuit carries. A new trusted setup of
/// the same circuit keeps its id (re-register the new verifier under it); a change
/// of N or of the constraints gives a new one.
pub fn circuit_id(header: &KeyHeader) -> B256 {
    keccak256([header.circuit.as_bytes(), &header.slots.to_be_bytes()[..], &header.digest[..]].concat())
}

/// One circuit of a deployment and its verifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitDeployment {
    /// [`circuit_id`] of the circuit.
    pub circuit_id: B256,
    /// Its name, e.g. "zkmeter.meter.v1".
    pub circuit: String,
    /// Its record slots N.
    pub slots: u32,
    /// SHA-256 of its constraint matrices, hex.
    pub key_digest: String,
    /// [`vk_hash`] of the verifying key its verifier holds: tells whether a key
    /// file is the one deployed (a new setup of the same circuit keeps the
    /// circuit id but needs a new verifier).
    pub vk_hash: B256,
    /// The `Groth16Verifier` holding its verifying key.
    pub verifier: Address,
}

/// One workload circuit of a deployment and its verifier (in the settlement's
/// workload registry, `workVerifiers`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkCircuitDeployment {
    /// [`circuit_id`] of the circuit.
    pub circuit_id: B256,
    /// Its name: the workload plan's id, e.g. "zkmeter.workload.v1:2:4x3md".
    pub circuit: String,
    /// SHA-256 of its constraint matrices, hex.
    pub key_digest: String,
    /// [`vk_hash`] of the verifying key its verifier holds.
    pub vk_hash: B256,
    /// The `Groth16Verifier` holding its (4-input) verifying key.
    pub verifier: Address,
}

/// Where zkmeter lives on a chain: what `deploy` writes and every later command reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The chain id.
    pub chain_id: u64,
    /// The chain's genesis id ([`Chain::genesis_id`]): a deployment is only ever used
    /// on the chain it was made on.
    pub genesis_id: B256,
    /// Who deployed: the admin and governance of both contracts, and a token minter.
    pub deployer: Address,
    /// The `ResourceToken` (ERC-1155).
    pub token: Address,
    /// The `Settlement` contract.
    pub settlement: Address,
    /// The meter circuits registered at deployment (or added since).
    pub circuits: Vec<CircuitDeployment>,
    /// The workload circuits added with [`Deployment::add_work_circuit`]; absent
    /// from deployment files written before workloads existed.
    #[serde(default)]
    pub work_circuits: Vec<WorkCircuitDeployment>,
    /// The block of the last deployment transaction.
    pub block_number: u64,
    /// Gas used by each deployment transaction, in order, with what it did.
    pub gas: Vec<(String, u64)>,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| ChainError::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| ChainError::BadFile {
            path: path.to_owned(),
            what: "deployment",
            reason: e.to_string(),
        })
    }

    /// Writes the deployment file durably (see [`crate::durable`]).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::durable::write(path, &serde_json::to_vec_pretty(self).expect("a deployment serializes"))
    }

    /// Refuses `chain` unless it is the chain this deployment was made on (same
    /// chain id and genesis id): a chain made again at the same place has the same
    /// addresses and job ids, and its receipts and stream logs must never mix.
    pub fn check_chain(&self, chain: &mut dyn Chain, path: &Path) -> Result<()> {
        let (id, genesis) = (chain.chain_id(), chain.genesis_id()?);
        if self.chain_id != id || self.genesis_id != genesis {
            return Err(ChainError::OtherChain(format!(
                "{} is a deployment on chain {} (genesis {}), but the chain here is {id} (genesis {genesis}): it was \
                 made again or is another one. Deploy afresh with a new data directory (--data-dir) or a new \
                 deployment file (--deployment)",
                path.display(),
                self.chain_id,
                self.genesis_id
            )));
        }
        Ok(())
    }

    /// The circuit with `slots` record slots, if deployed.
    pub fn circuit(&self, slots: u32) -> Option<&CircuitDeployment> {
        self.circuits.iter().find(|c| c.slots == slots)
    }

    /// The workload circuit named `circuit` (its plan's id), if deployed.
    pub fn work_circuit(&self, circuit: &str) -> Option<&WorkCircuitDeployment> {
        self.work_circuits.iter().find(|c| c.circuit == circuit)
    }
}

/// A circuit to deploy a verifier for: its key header and verifying key.
pub struct CircuitToDeploy<'a> {
    /// The header of its key files (name, N, digest).
    pub header: &'a KeyHeader,
    /// Its verifying key.
    pub vk: &'a VerifyingKey<Bn254>,
}

fn u256(word: &Word) -> U256 {
    U256::from_be_bytes(*word)
}

/// `keccak256` of the verifier's constructor arguments for `vk`: identifies the
/// key a deployed verifier holds.
pub fn vk_hash(vk: &VerifyingKey<Bn254>) -> B256 {
    keccak256(verifier_constructor(vk).abi_encode())
}

/// The constructor arguments of a `Groth16Verifier` for `vk`.
pub fn verifier_constructor(vk: &VerifyingKey<Bn254>) -> Groth16Verifier::constructorCall {
    let k = encode_verifying_key(vk);
    Groth16Verifier::constructorCall {
        alpha: k.alpha.each_ref().map(u256),
        beta: k.beta.each_ref().map(u256),
        gamma: k.gamma.each_ref().map(u256),
        delta: k.delta.each_ref().map(u256),
        ic: k.ic.iter().map(|p| p.each_ref().map(u256)).collect(),
    }
}

fn create(chain: &mut dyn Chain, what: &str, from: Address, code: &Bytes, args: Vec<u8>) -> Result<(Address, Receipt)> {
    let init: Bytes = [code.as_ref(), &args[..]].concat().into();
    let receipt = chain.transact(what, from, None, init)?;
    let address = receipt
        .contract_address
        .ok_or_else(|| ChainError::Missing(format!("deploying {what} created no contract")))?;
    Ok((address, receipt))
}

/// Deploys zkmeter from the chain's first account: the `ResourceToken`, the
/// `Settlement` contract (given the token's MINTER_ROLE), a `Groth16Verifier` per
/// circuit (registered in the settlement's circuit registry), and gives the
/// deployer MINTER_ROLE too, so it can issue tokens to consumers. The deployer is
/// the admin and governance of both contracts; tariffs start at 1 token per unit.
/// Writes the deployment to `out` if given.
pub fn deploy(chain: &mut dyn Chain, circuits: &[CircuitToDeploy<'_>], out: Option<&Path>) -> Result<Deployment> {
    let deployer = *chain
        .accounts()
        .first()
        .ok_or_else(|| ChainError::Key("no key to deploy from: give the deployer's private key".into()))?;
    let mut gas = Vec::new();

    let args = ResourceToken::constructorCall { admin: deployer, uri_: String::new() }.abi_encode();
    let (token, r) = create(chain, "deploy ResourceToken", deployer, &ResourceToken::BYTECODE, args)?;
    gas.push(("deploy ResourceToken".to_owned(), r.gas_used));

    let args = Settlement::constructorCall { token_: token, admin: deployer }.abi_encode();
    let (settlement, r) = create(chain, "deploy Settlement", deployer, &Settlement::BYTECODE, args)?;
    gas.push(("deploy Settlement".to_owned(), r.gas_used));

    let minter = keccak256("MINTER_ROLE");
    let mut block_number = 0;
    for (who, account) in [("settlement", settlement), ("deployer", deployer)] {
        let what = format!("grant MINTER_ROLE to the {who}");
        let call = ResourceToken::grantRoleCall { role: minter, account }.abi_encode();
        let r = chain.transact(&what, deployer, Some(token), call.into())?;
        gas.push((what, r.gas_used));
        block_number = r.block_number;
    }

    let mut deployment = Deployment {
        chain_id: chain.chain_id(),
        genesis_id: chain.genesis_id()?,
        deployer,
        token,
        settlement,
        circuits: Vec::new(),
        work_circuits: Vec::new(),
        block_number,
        gas,
    };
    for c in circuits {
        deployment.add_circuit(chain, c)?;
    }
    if let Some(path) = out {
        deployment.save(path)?;
    }
    Ok(deployment)
}

impl Deployment {
    /// Deploys a `Groth16Verifier` for `c` and registers it in the settlement's
    /// circuit registry (from the deployer, who holds GOVERNANCE_ROLE), replacing
    /// the verifier of the same N if the deployment had one. The caller saves the
    /// deployment file.
    pub fn add_circuit(&mut self, chain: &mut dyn Chain, c: &CircuitToDeploy<'_>) -> Result<&CircuitDeployment> {
        let what = format!("deploy Groth16Verifier (N = {})", c.header.slots);
        let args = verifier_constructor(c.vk).abi_encode();
        let (verifier, r) = create(chain, &what, self.deployer, &Groth16Verifier::BYTECODE, args)?;
        self.gas.push((what, r.gas_used));
        let id = circuit_id(c.header);
        let what = format!("register circuit N = {}", c.header.slots);
        let call = Settlement::setCircuitCall { circuitId: id, verifier }.abi_encode();
        let r = chain.transact(&what, self.deployer, Some(self.settlement), call.into())?;
        self.gas.push((what, r.gas_used));
        self.block_number = r.block_number;
        self.circuits.retain(|d| d.slots != c.header.slots);
        self.circuits.push(CircuitDeployment {
            circuit_id: id,
            circuit: c.header.circuit.clone(),
            slots: c.header.slots,
            key_digest: c.header.digest_hex(),
            vk_hash: vk_hash(c.vk),
            verifier,
        });
        Ok(self.circuits.last().expect("just pushed"))
    }

    /// Deploys a `Groth16Verifier` for the workload circuit `c` (a 4-input key) and
    /// registers it in the settlement's workload registry (`setWorkCircuit`, from the
    /// deployer), replacing the entry of the same circuit name if there was one. Its
    /// id is [`circuit_id`] of its header. The caller saves the deployment file.
    pub fn add_work_circuit(&mut self, chain: &mut dyn Chain, c: &CircuitToDeploy<'_>) -> Result<&WorkCircuitDeployment> {
        let inputs = c.vk.gamma_abc_g1.len().saturating_sub(1);
        if inputs != WORKLOAD_PUBLIC_INPUTS {
            return Err(ChainError::Invalid(format!(
                "the verifying key of {} has {inputs} public inputs, but a workload circuit has                  {WORKLOAD_PUBLIC_INPUTS}: pass the workload circuit's key (meter keys go to add_circuit)",
                c.header.circuit
            )));
        }
        let what = format!("deploy Groth16Verifier ({})", c.header.circuit);
        let args = verifier_constructor(c.vk).abi_encode();
        let (verifier, r) = create(chain, &what, self.deployer, &Groth16Verifier::BYTECODE, args)?;
        self.gas.push((what, r.gas_used));
        let id = circuit_id(c.header);
        let what = format!("register workload circuit {}", c.header.circuit);
        let call = Settlement::setWorkCircuitCall { circuitId: id, verifier }.abi_encode();
        let r = chain.transact(&what, self.deployer, Some(self.settlement), call.into())?;
        self.gas.push((what, r.gas_used));
        self.block_number = r.block_number;
        self.work_circuits.retain(|d| d.circuit != c.header.circuit);
        self.work_circuits.push(WorkCircuitDeployment {
            circuit_id: id,
            circuit: c.header.circuit.clone(),
            key_digest: c.header.digest_hex(),
            vk_hash: vk_hash(c.vk),
            verifier,
        });
        Ok(self.work_circuits.last().expect("just pushed"))
    }
}

/// Runs the read-only call `call` on the contract at `to` and decodes what it
/// returns; `what` names it in errors.
pub fn view<C: SolCall>(chain: &mut dyn Chain, what: &str, to: Address, call: C) -> Result<C::Return> {
    let out = chain.call(what, to, call.abi_encode().into())?;
    C::abi_decode_returns(&out).map_err(|e| ChainError::Decode { what: what.to_owned(), reason: e.to_string() })
}

