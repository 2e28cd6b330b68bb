//! What the rest of zkmeter does on a deployed chain: issue tokens, register
//! meters, open jobs, settle epochs, request and settle verified work, read stream
//! states and balances. Each operation is a method of [`Deployment`] taking the
//! [`Chain`] to run on.
//!
//! Work is settled once per (job, circuit, model, input): a second `settle_work`
//! of the same work reverts with `WorkAlreadySettled` (check with
//! [`ChainError::is_revert_with`]), so a settler that crashed after sending can
//! resend and treat that revert as done.

use alloy::primitives::{Address, B256, Bytes, U256, aliases::U48};
use alloy::sol_types::{SolCall, SolEvent};
use ark_bn254::Fr;
use ark_ff::{BigInt, PrimeField};
use zkmeter_circuits::workload::WorkloadStatement;
use zkmeter_circuits::record::{USAGE_BITS, USAGE_OFFSETS};
use zkmeter_circuits::{Capacity, MeterStatement, PerClass, StreamState};
use zkmeter_verifier::proof_codec::PROOF_LEN;

use crate::bindings::{ResourceToken, Settlement};
use crate::chain::{Chain, Receipt};
use crate::deploy::{Deployment, view};
use crate::error::{ChainError, Result};
use crate::meter_signature::fr_to_u256;

/// Number of resource classes (token ids 0..5).
pub const CLASSES: usize = 5;

/// A settled epoch: the receipt and what the `Settled` event says.
#[derive(Clone, Debug)]
pub struct Settled {
    /// The transaction.
    pub receipt: Receipt,
    /// The epoch as the event tells it.
    pub epoch: SettledEpoch,
    /// Billed but not paid, per class, when the escrow ran short (`EscrowShortfall`).
    pub unpaid: Option<[U256; CLASSES]>,
}

/// One epoch for [`Deployment::settle_batch`].
#[derive(Clone, Copy, Debug)]
pub struct EpochToSettle<'a> {
    /// The epoch's statement.
    pub statement: &'a MeterStatement,
    /// Its proof.
    pub proof: &'a [u8; PROOF_LEN],
    /// The meter's signature over its new state.
    pub meter_signature: &'a [u8; 65],
}

/// What a `settleBatch` transaction did.
#[derive(Clone, Debug)]
pub struct BatchSettled {
    /// The transaction.
    pub receipt: Receipt,
    /// The epochs it settled, in order, as their `Settled` events tell them.
    pub settled: Vec<SettledEpoch>,
    /// The epochs it skipped (`EpochSkipped`: their job's stream had reached
    /// their new seq already), as (job, new seq).
    pub skipped: Vec<(u64, u64)>,
}

/// What one `Settled` event says, unpacked: the event packs the epoch's times and
/// seqs and its totals exactly as the proof's public inputs x2 and x3, and each
/// class's payment as `burned | minted << 128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettledEpoch {
    /// The job.
    pub job_id: u64,
    /// The circuit that proved it.
    pub circuit_id: B256,
    /// The provider paid.
    pub provider: Address,
    /// Seq of the last record before the epoch.
    pub prev_seq: u64,
    /// End of the last record before the epoch (the job's opening time for the first).
    pub prev_end_ms: u64,
    /// The stream's state after the epoch.
    pub state: StreamState,
    /// Per-class usage of the epoch, in each class's base unit.
    pub totals: PerClass,
    /// Tokens burned from the escrow, per class.
    pub burned: [U256; CLASSES],
    /// Tokens minted to the provider, per class (burned less the protocol fee).
    pub minted: [U256; CLASSES],
}

impl SettledEpoch {
    /// Unpacks a decoded `Settled` event.
    pub fn from_event(e: &Settlement::Settled) -> Result<Self> {
        let word = |x: U256, offset: usize, bits: usize| -> u64 {
            let mask = (U256::from(1u8) << bits) - U256::from(1u8);
            ((x >> offset) & mask).to::<u64>()
        };
        let (prev_seq, prev_end_ms, end_ms, count) =
            (word(e.epoch, 0, 64), word(e.epoch, 64, 64), word(e.epoch, 128, 64), word(e.epoch, 192, 32));
        let totals = PerClass(std::array::from_fn(|c| word(e.totals, USAGE_OFFSETS[c], USAGE_BITS[c])));
        let half = |x: U256, high: bool| if high { x >> 128 } else { x & ((U256::from(1u8) << 128) - U256::from(1u8)) };
        Ok(SettledEpoch {
            job_id: e.jobId,
            circuit_id: e.circuitId,
            provider: e.provider,
            prev_seq,
            prev_end_ms,
            state: StreamState { head: u256_to_fr(e.head)?, seq: prev_seq + count, end_ms },
            totals,
            burned: e.paid.map(|p| half(p, false)),
            minted: e.paid.map(|p| half(p, true)),
        })
    }
}

/// Settled work: the receipt and what the `WorkSettled` event says.
#[derive(Clone, Debug)]
pub struct WorkSettled {
    /// The transaction.
    pub receipt: Receipt,
    /// The job.
    pub job_id: u64,
    /// The provider paid.
    pub provider: Address,
    /// The output commitment the proof established.
    pub output: Fr,
    /// Multiply-accumulates billed.
    pub work_units: u64,
    /// Tokens of the work class burned from the escrow.
    pub burned: U256,
    /// Tokens of the work class minted to the provider (burned less the protocol fee).
    pub minted: U256,
    /// Billed but not paid when the escrow ran short (`EscrowShortfall`).
    pub unpaid: Option<U256>,
}

/// Where a piece of work (job, circuit, model, input) stands on-chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkStatus {
    /// The consumer never requested it.
    None,
    /// Requested, not settled yet.
    Requested,
    /// Settled (paid): it cannot be settled again.
    Settled,
}

/// A job as the contract holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Who opened it and escrowed its tokens.
    pub consumer: Address,
    /// Whose meter serves it.
    pub provider: Address,
    /// The meter.
    pub meter: Address,
    /// The job's capacity per class (base units per ms), fixed when it was opened.
    pub capacity: Capacity,
    /// Unix seconds.
    pub expires_at: u64,
    /// False once closed (or if never opened).
    pub open: bool,
    /// Its stream's settled state.
    pub state: StreamState,
    /// Escrow left, per class.
    pub escrow: [u128; CLASSES],
}

/// A meter's registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterInfo {
    /// Who registered it (zero: not registered).
    pub provider: Address,
    /// Whether an attestor approved it.
    pub approved: bool,
    /// Its registered capacity per class.
    pub capacity: Capacity,
    /// What its open jobs hold of that capacity, per class.
    pub committed: Capacity,
}

/// A job just opened.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The transaction.
    pub receipt: Receipt,
    /// The new job's id.
    pub job_id: u64,
    /// Its stream's first state: the genesis head, seq 0 and the opening block's time in ms.
    pub genesis: StreamState,
}

fn capacity_words(capacity: &Capacity) -> Result<[U48; CLASSES]> {
    let mut cap = [U48::ZERO; CLASSES];
    for (c, v) in capacity.0.iter().enumerate() {
        cap[c] = U48::try_from(*v)
            .map_err(|_| ChainError::Invalid(format!("capacity of class {c} is {v}, above 2^48 - 1")))?;
    }
    Ok(cap)
}

fn capacity_of(words: [U48; CLASSES]) -> Capacity {
    PerClass(words.map(|c| c.to::<u64>()))
}

/// The contract's statement struct for a circuits-crate statement.
pub fn sol_statement(s: &MeterStatement) -> Settlement::MeterStatement {
    let state = |st: &StreamState| Settlement::StreamState { head: fr_to_u256(&st.head), seq: st.seq, endMs: st.end_ms };
    Settlement::MeterStatement { jobId: s.stream.job_id, prev: state(&s.prev), next: state(&s.new), totals: s.totals.0 }
}

/// The contract's work statement struct for a circuits-crate workload statement.
pub fn sol_work_statement(s: &WorkloadStatement) -> Settlement::WorkStatement {
    Settlement::WorkStatement {
        jobId: s.job_id,
        model: fr_to_u256(&s.model),
        input: fr_to_u256(&s.input),
        output: fr_to_u256(&s.output),
        workUnits: s.work_units,
    }
}

/// The eight words of a 256-byte EVM-encoded proof (`zkmeter_verifier::proof_codec::encode_proof`).
pub fn proof_words(proof: &[u8; PROOF_LEN]) -> [U256; 8] {
    std::array::from_fn(|i| U256::from_be_slice(&proof[32 * i..32 * (i + 1)]))
}

/// A `uint256` head as a field element; refuses values ≥ r (no contract state holds one).
pub fn u256_to_fr(x: U256) -> Result<Fr> {
    Fr::from_bigint(BigInt(x.into_limbs()))
        .ok_or_else(|| ChainError::Invalid(format!("{x} is not below the BN254 scalar modulus")))
}

fn nonzero(amounts: &[u128; CLASSES]) -> (Vec<U256>, Vec<U256>) {
    amounts.iter().enumerate().filter(|(_, a)| **a != 0).map(|(c, a)| (U256::from(c), U256::from(*a))).unzip()
}

impl Deployment {
    fn send<C: SolCall>(&self, chain: &mut dyn Chain, what: &str, from: Address, to: Address, call: C) -> Result<Receipt> {
        chain.transact(what, from, Some(to), Bytes::from(call.abi_encode()))
    }

    /// Mints `amounts` (per class) to `to`, from the deployer (a MINTER_ROLE holder):
    /// how a dev deployment issues tokens to consumers.
    pub fn mint_tokens(&self, chain: &mut dyn Chain, to: Address, amounts: [u128; CLASSES]) -> Result<Receipt> {
        let (ids, amounts) = nonzero(&amounts);
        let call = ResourceToken::mintBatchCall { to, ids, amounts, data: Bytes::new() };
        self.send(chain, "mint tokens", self.deployer, self.token, call)
    }

    /// Registers `meter` for `provider` (the transaction comes from the provider)
    /// with `capacity` per class, in base units per millisecond (each < 2^48).
    /// `meter_signature` is the meter key's consent to being registered by this
    /// provider ([`crate::meter_signature::sign_registration`]).
    pub fn register_meter(
        &self,
        chain: &mut dyn Chain,
        provider: Address,
        meter: Address,
        capacity: &Capacity,
        meter_signature: &[u8; 65],
    ) -> Result<Receipt> {
        let call = Settlement::registerMeterCall {
            meter,
            capacity: capacity_words(capacity)?,
            meterSignature: Bytes::copy_from_slice(meter_signature),
        };
        self.send(chain, "register meter", provider, self.settlement, call)
    }

    /// Opens a job from `consumer` with `meter` and the job's `capacity` (at most
    /// what the meter's registration has left beside its other open jobs),
    /// escrowing `escrow` tokens per class (the consumer must hold them); approves
    /// the settlement contract on the token first if the consumer has not.
    pub fn open_job(
        &self,
        chain: &mut dyn Chain,
        consumer: Address,
        meter: Address,
        capacity: &Capacity,
        expires_at: u64,
        escrow: [u128; CLASSES],
    ) -> Result<Opened> {
        let approved = view(
            chain,
            "isApprovedForAll",
            self.token,
            ResourceToken::isApprovedForAllCall { account: consumer, operator: self.settlement },
        )?;
        if !approved {
            let call = ResourceToken::setApprovalForAllCall { operator: self.settlement, approved: true };
            self.send(chain, "approve the settlement contract on the token", consumer, self.token, call)?;
        }
        let call = Settlement::openJobCall { meter, capacity: capacity_words(capacity)?, expiresAt: expires_at, escrow };
        let receipt = self.send(chain, "open job", consumer, self.settlement, call)?;
        let opened = self
            .event::<Settlement::JobOpened>(&receipt)
            .next()
            .ok_or_else(|| ChainError::Missing("openJob succeeded but emitted no JobOpened event".into()))?;
        let genesis = StreamState { head: u256_to_fr(opened.genesisHead)?, seq: 0, end_ms: opened.startMs };
        Ok(Opened { job_id: opened.jobId, genesis, receipt })
    }

    /// Closes a job (its provider any time, anyone after the deadline); the rest of
    /// the escrow goes back to the consumer.
    pub fn close_job(&self, chain: &mut dyn Chain, from: Address, job_id: u64) -> Result<Receipt> {
        self.send(chain, "close job", from, self.settlement, Settlement::closeJobCall { jobId: job_id })
    }

    /// Settles one epoch with the circuit of `slots` record slots: `proof` is the
    /// 256-byte EVM encoding, `meter_signature` the meter's signature over the new
    /// state ([`crate::meter_signature::sign_state`]). Anyone may send it.
    pub fn settle(
        &self,
        chain: &mut dyn Chain,
        from: Address,
        slots: u32,
        statement: &MeterStatement,
        proof: &[u8; PROOF_LEN],
        meter_signature: &[u8; 65],
    ) -> Result<Settled> {
        let circuit = self.settled_circuit(slots)?;
        let call = Settlement::settleCall {
            circuitId: circuit.circuit_id,
            statement: sol_statement(statement),
            proof: proof_words(proof),
            meterSignature: Bytes::copy_from_slice(meter_signature),
        };
        let receipt = self.send(chain, "settle", from, self.settlement, call)?;
        let e = self
            .event::<Settlement::Settled>(&receipt)
            .next()
            .ok_or_else(|| ChainError::Missing("settle succeeded but emitted no Settled event".into()))?;
        let unpaid = self.event::<Settlement::EscrowShortfall>(&receipt).next().map(|s| s.unpaid);
        Ok(Settled { epoch: SettledEpoch::from_event(&e)?, unpaid, receipt })
    }

    /// The deployed circuit of N = `slots`, or an error saying which N there are.
    fn settled_circuit(&self, slots: u32) -> Result<&crate::deploy::CircuitDeployment> {
        self.circuit(slots).ok_or_else(|| {
            ChainError::Invalid(format!(
                "this deployment has no verifier for N = {slots} (it has {:?}): deploy one for this N",
                self.circuits.iter().map(|c| c.slots).collect::<Vec<_>>()
            ))
        })
    }

    /// Settles several epochs of circuit N = `slots` in one `settleBatch`
    /// transaction from `from`, in the order given (epochs of one job in seq
    /// order): one batched proof check for all. An epoch whose job's stream has
    /// reached its new seq already is skipped; any other fault reverts the whole
    /// batch, and nothing settles.
    pub fn settle_batch(
        &self,
        chain: &mut dyn Chain,
        from: Address,
        slots: u32,
        epochs: &[EpochToSettle<'_>],
    ) -> Result<BatchSettled> {
        let circuit = self.settled_circuit(slots)?;
        let call = Settlement::settleBatchCall {
            circuitId: circuit.circuit_id,
            statements: epochs.iter().map(|e| sol_statement(e.statement)).collect(),
            proofs: epochs.iter().map(|e| proof_words(e.proof)).collect(),
            meterSignatures: epochs.iter().map(|e| Bytes::copy_from_slice(e.meter_signature)).collect(),
        };
        let receipt = self.send(chain, "settle a batch", from, self.settlement, call)?;
        let settled = self.event::<Settlement::Settled>(&receipt).map(|e| SettledEpoch::from_event(&e)).collect::<Result<_>>()?;
        let skipped = self.event::<Settlement::EpochSkipped>(&receipt).map(|e| (e.jobId, e.seq)).collect();
        Ok(BatchSettled { settled, skipped, receipt })
    }

    /// Sets the price of work, from the deployer (GOVERNANCE_ROLE): `amount` base
    /// units of class `class` per `per` work units (multiply-accumulates).
    pub fn set_work_tariff(&self, chain: &mut dyn Chain, class: usize, amount: u128, per: u128) -> Result<Receipt> {
        if class >= CLASSES {
            return Err(ChainError::Invalid(format!("class {class} is not a resource class (0..{CLASSES})")));
        }
        if per == 0 {
            return Err(ChainError::Invalid("a tariff's `per` must be at least 1".into()));
        }
        let call = Settlement::setWorkTariffCall { class: U256::from(class), amount, per };
        self.send(chain, "set work tariff", self.deployer, self.settlement, call)
    }

    /// Requests work in job `job_id` from its consumer `from`: `model` run on
    /// `input` with workload circuit `circuit_id`. Only requested work can be
    /// settled (and billed to the job's escrow).
    pub fn request_work(
        &self,
        chain: &mut dyn Chain,
        from: Address,
        job_id: u64,
        circuit_id: B256,
        model: Fr,
        input: Fr,
    ) -> Result<Receipt> {
        let call = Settlement::requestWorkCall {
            jobId: job_id,
            circuitId: circuit_id,
            model: fr_to_u256(&model),
            input: fr_to_u256(&input),
        };
        self.send(chain, "request work", from, self.settlement, call)
    }

    /// Settles requested work with workload circuit `circuit_id`: `proof` is the
    /// 256-byte EVM encoding of a proof of `statement`. Anyone may send it. Settling
    /// the same work twice reverts with `WorkAlreadySettled`.
    pub fn settle_work(
        &self,
        chain: &mut dyn Chain,
        from: Address,
        circuit_id: B256,
        statement: &WorkloadStatement,
        proof: &[u8; PROOF_LEN],
    ) -> Result<WorkSettled> {
        let call = Settlement::settleWorkCall {
            circuitId: circuit_id,
            statement: sol_work_statement(statement),
            proof: proof_words(proof),
        };
        let receipt = self.send(chain, "settle work", from, self.settlement, call)?;
        let e = self
            .event::<Settlement::WorkSettled>(&receipt)
            .next()
            .ok_or_else(|| ChainError::Missing("settleWork succeeded but emitted no WorkSettled event".into()))?;
        // Work bills one class, so the shortfall's other classes are zero: its sum is
        // the work class's, whatever class governance picks later.
        let unpaid = self
            .event::<Settlement::EscrowShortfall>(&receipt)
            .next()
            .map(|s| s.unpaid.iter().fold(U256::ZERO, |sum, u| sum + u));
        Ok(WorkSettled {
            job_id: e.jobId,
            provider: e.provider,
            output: u256_to_fr(e.output)?,
            work_units: e.workUnits,
            burned: e.burned,
            minted: e.minted,
            unpaid,
            receipt,
        })
    }

    /// Where the work (job, circuit, model, input) stands.
    pub fn work_status(
        &self,
        chain: &mut dyn Chain,
        job_id: u64,
        circuit_id: B256,
        model: Fr,
        input: Fr,
    ) -> Result<WorkStatus> {
        let call = Settlement::workStatusCall {
            jobId: job_id,
            circuitId: circuit_id,
            model: fr_to_u256(&model),
            input: fr_to_u256(&input),
        };
        match view(chain, "workStatus", self.settlement, call)? {
            0 => Ok(WorkStatus::None),
            1 => Ok(WorkStatus::Requested),
            2 => Ok(WorkStatus::Settled),
            other => Err(ChainError::Decode {
                what: "workStatus".into(),
                reason: format!("status {other} is not None (0), Requested (1) or Settled (2)"),
            }),
        }
    }

    /// The price of work: (class, amount, per).
    pub fn work_tariff(&self, chain: &mut dyn Chain) -> Result<(usize, u128, u128)> {
        let t = view(chain, "workTariff", self.settlement, Settlement::workTariffCall {})?;
        let class = usize::try_from(t.class).ok().filter(|c| *c < CLASSES).ok_or_else(|| ChainError::Decode {
            what: "workTariff".into(),
            reason: format!("class {} is not a resource class", t.class),
        })?;
        Ok((class, t.amount, t.per))
    }

    /// The events of type `E` the settlement or token contract emitted in `receipt`.
    pub fn event<'r, E: SolEvent + 'r>(&self, receipt: &'r Receipt) -> impl Iterator<Item = E> + 'r {
        let (settlement, token) = (self.settlement, self.token);
        receipt
            .logs
            .iter()
            .filter(move |l| l.address == settlement || l.address == token)
            .filter_map(|l| E::decode_log(l).ok().map(|d| d.data))
    }

    /// Job `job_id` (all zero and not open if it was never opened).
    pub fn job(&self, chain: &mut dyn Chain, job_id: u64) -> Result<Job> {
        let j = view(chain, "jobInfo", self.settlement, Settlement::jobInfoCall { jobId: job_id })?;
        Ok(Job {
            consumer: j.consumer,
            provider: j.provider,
            meter: j.meter,
            capacity: capacity_of(j.capacity),
            expires_at: j.expiresAt,
            open: j.status == 1,
            state: StreamState { head: u256_to_fr(j.state.head)?, seq: j.state.seq, end_ms: j.state.endMs },
            escrow: j.escrow,
        })
    }

    /// The settled state of job `job_id`'s stream: what the next epoch must continue.
    pub fn stream_state(&self, chain: &mut dyn Chain, job_id: u64) -> Result<StreamState> {
        Ok(self.job(chain, job_id)?.state)
    }

    /// Number of jobs opened so far (ids are 1..=count).
    pub fn job_count(&self, chain: &mut dyn Chain) -> Result<u64> {
        view(chain, "jobCount", self.settlement, Settlement::jobCountCall {})
    }

    /// `account`'s resource tokens, per class.
    pub fn balances(&self, chain: &mut dyn Chain, account: Address) -> Result<[U256; CLASSES]> {
        let call = ResourceToken::balanceOfBatchCall {
            accounts: vec![account; CLASSES],
            ids: (0..CLASSES).map(U256::from).collect(),
        };
        let b = view(chain, "balanceOfBatch", self.token, call)?;
        b.try_into().map_err(|_| ChainError::Decode { what: "balanceOfBatch".into(), reason: "not 5 balances".into() })
    }

    /// `meter`'s registration (provider zero if it has none).
    pub fn meter_info(&self, chain: &mut dyn Chain, meter: Address) -> Result<MeterInfo> {
        let m = view(chain, "meterInfo", self.settlement, Settlement::meterInfoCall { meter })?;
        Ok(MeterInfo {
            provider: m.provider,
            approved: m.approved,
            capacity: capacity_of(m.capacity),
            committed: capacity_of(m.committed),
        })
    }
}
