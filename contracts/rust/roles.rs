//! What each role does on a deployment besides settling, from any account it
//! names: attestors approve meters, consumers fund jobs and move their expiry,
//! minters issue tokens and holders transfer them, governance sets tariffs, the
//! protocol fee, circuits, the settlement grace, the clock skew and whether
//! meters need approval, and the admin grants roles. Each is a method of
//! [`Deployment`] taking the [`Chain`] and the sender; reads come beside them.
//! (Registering meters, opening and closing jobs, settling and work requests are
//! in [`crate::settlement`].)

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::sol_types::SolCall;

use crate::bindings::{ResourceToken, Settlement};
use crate::chain::{Chain, Receipt};
use crate::deploy::{Deployment, view};
use crate::error::{ChainError, Result};
use crate::settlement::CLASSES;

/// The access-control roles of the two contracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Grants and revokes every role (both contracts).
    Admin,
    /// Sets tariffs, the fee, circuits, the grace, the clock skew, attestation.
    Governance,
    /// Approves and revokes meters.
    Attestor,
    /// Issues resource tokens (on the token contract).
    Minter,
}

impl Role {
    /// Every role, in the order they are listed.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Governance, Role::Attestor, Role::Minter];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Governance => "governance",
            Role::Attestor => "attestor",
            Role::Minter => "minter",
        }
    }

    /// The role's id in OpenZeppelin's AccessControl.
    pub fn id(self) -> B256 {
        match self {
            Role::Admin => B256::ZERO,
            Role::Governance => keccak256("GOVERNANCE_ROLE"),
            Role::Attestor => keccak256("ATTESTOR_ROLE"),
            Role::Minter => keccak256("MINTER_ROLE"),
        }
    }

    /// The role with this id, if it is one of these.
    pub fn from_id(id: B256) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The contract that holds it: the minter role is the token's, the others the
    /// settlement contract's (the admin role is granted on both at deployment).
    pub fn contract(self, d: &Deployment) -> Address {
        if self == Role::Minter { d.token } else { d.settlement }
    }
}

/// The price of a class: `amount` token base units per `per` quantity units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tariff {
    /// Token base units …
    pub amount: u128,
    /// … per this many quantity units (never 0).
    pub per: u128,
}

/// What governance sets besides tariffs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Share of each payment burned instead of paid, in basis points.
    pub protocol_fee_bps: u16,
    /// Seconds after a job's expiry during which it still settles.
    pub settlement_grace: u64,
    /// How far past the chain's clock an epoch may end, in ms.
    pub clock_skew_ms: u64,
    /// Whether meters need an attestor's approval.
    pub attestation_required: bool,
}

fn nonzero(amounts: &[u128; CLASSES]) -> (Vec<U256>, Vec<U256>) {
    amounts.iter().enumerate().filter(|(_, a)| **a != 0).map(|(c, a)| (U256::from(c), U256::from(*a))).unzip()
}

fn check_class(class: usize) -> Result<()> {
    if class >= CLASSES {
        return Err(ChainError::Invalid(format!("class {class} is not a resource class (0..{CLASSES})")));
    }
    Ok(())
}

impl Deployment {
    fn send_as<C: SolCall>(&self, chain: &mut dyn Chain, what: &str, from: Address, to: Address, call: C) -> Result<Receipt> {
        chain.transact(what, from, Some(to), Bytes::from(call.abi_encode()))
    }

    /// Approves `meter` (an attestor's call).
    pub fn approve_meter(&self, chain: &mut dyn Chain, from: Address, meter: Address) -> Result<Receipt> {
        self.send_as(chain, "approve meter", from, self.settlement, Settlement::approveMeterCall { meter })
    }

    /// Withdraws `meter`'s approval (an attestor's call).
    pub fn revoke_meter(&self, chain: &mut dyn Chain, from: Address, meter: Address) -> Result<Receipt> {
        self.send_as(chain, "revoke meter", from, self.settlement, Settlement::revokeMeterCall { meter })
    }

    /// Lets the settlement contract pull `account`'s tokens into escrow, unless it may already.
    pub fn approve_escrow(&self, chain: &mut dyn Chain, account: Address) -> Result<Option<Receipt>> {
        let call = ResourceToken::isApprovedForAllCall { account, operator: self.settlement };
        if view(chain, "isApprovedForAll", self.token, call)? {
            return Ok(None);
        }
        let call = ResourceToken::setApprovalForAllCall { operator: self.settlement, approved: true };
        self.send_as(chain, "approve the settlement contract on the token", account, self.token, call).map(Some)
    }

    /// Adds `amounts` to job `job_id`'s escrow from `from` (anyone may fund a job;
    /// what is left at closing goes to its consumer).
    pub fn fund_job(&self, chain: &mut dyn Chain, from: Address, job_id: u64, amounts: [u128; CLASSES]) -> Result<Receipt> {
        self.approve_escrow(chain, from)?;
        self.send_as(chain, "fund job", from, self.settlement, Settlement::fundJobCall { jobId: job_id, amounts })
    }

    /// Moves job `job_id`'s expiry to `expires_at` (Unix seconds, not in the past;
    /// the consumer's call).
    pub fn set_job_expiry(&self, chain: &mut dyn Chain, from: Address, job_id: u64, expires_at: u64) -> Result<Receipt> {
        let call = Settlement::setJobExpiryCall { jobId: job_id, expiresAt: expires_at };
        self.send_as(chain, "set job expiry", from, self.settlement, call)
    }

    /// Issues `amounts` (per class) to `to`, from `from` (a minter).
    pub fn issue_tokens(&self, chain: &mut dyn Chain, from: Address, to: Address, amounts: [u128; CLASSES]) -> Result<Receipt> {
        let (ids, amounts) = nonzero(&amounts);
        let call = ResourceToken::mintBatchCall { to, ids, amounts, data: Bytes::new() };
        self.send_as(chain, "issue tokens", from, self.token, call)
    }

    /// Transfers `amounts` (per class) of `from`'s tokens to `to`.
    pub fn transfer_tokens(&self, chain: &mut dyn Chain, from: Address, to: Address, amounts: [u128; CLASSES]) -> Result<Receipt> {
        let (ids, values) = nonzero(&amounts);
        let call = ResourceToken::safeBatchTransferFromCall { from, to, ids, values, data: Bytes::new() };
        self.send_as(chain, "transfer tokens", from, self.token, call)
    }

    /// Sets class `class`'s tariff (governance).
    pub fn set_tariff(&self, chain: &mut dyn Chain, from: Address, class: usize, tariff: Tariff) -> Result<Receipt> {
        check_class(class)?;
        let call = Settlement::setTariffCall { class: U256::from(class), amount: tariff.amount, per: tariff.per };
        self.send_as(chain, "set tariff", from, self.settlement, call)
    }

    /// Sets the price of work (governance): paid in class `class`.
    pub fn set_work_tariff_from(&self, chain: &mut dyn Chain, from: Address, class: usize, tariff: Tariff) -> Result<Receipt> {
        check_class(class)?;
        let call = Settlement::setWorkTariffCall { class: U256::from(class), amount: tariff.amount, per: tariff.per };
        self.send_as(chain, "set work tariff", from, self.settlement, call)
    }

    /// Every class's tariff, in class order.
    pub fn tariffs(&self, chain: &mut dyn Chain) -> Result<[Tariff; CLASSES]> {
        let mut out = [Tariff { amount: 0, per: 1 }; CLASSES];
        for (c, tariff) in out.iter_mut().enumerate() {
            let t = view(chain, "tariff", self.settlement, Settlement::tariffCall { class: U256::from(c) })?;
            *tariff = Tariff { amount: t.amount, per: t.per };
        }
        Ok(out)
    }

    /// Sets the protocol fee in basis points (governance; at most 1 000).
    pub fn set_protocol_fee(&self, chain: &mut dyn Chain, from: Address, bps: u16) -> Result<Receipt> {
        let call = Settlement::setProtocolFeeCall { bps: U256::from(bps) };
        self.send_as(chain, "set protocol fee", from, self.settlement, call)
    }

    /// Registers `verifier` for meter circuit `circuit_id`, or for workload circuit
    /// `circuit_id` if `work` (governance); the zero address removes it.
    pub fn set_circuit(&self, chain: &mut dyn Chain, from: Address, circuit_id: B256, verifier: Address, work: bool) -> Result<Receipt> {
        if work {
            let call = Settlement::setWorkCircuitCall { circuitId: circuit_id, verifier };
            self.send_as(chain, "set workload circuit", from, self.settlement, call)
        } else {
            self.send_as(chain, "set circuit", from, self.settlement, Settlement::setCircuitCall { circuitId: circuit_id, verifier })
        }
    }

    /// The verifier registered for circuit `circuit_id` (zero: none), in the
    /// workload registry if `work`.
    pub fn verifier_of(&self, chain: &mut dyn Chain, circuit_id: B256, work: bool) -> Result<Address> {
        if work {
            view(chain, "workVerifiers", self.settlement, Settlement::workVerifiersCall { circuitId: circuit_id })
        } else {
            view(chain, "verifiers", self.settlement, Settlement::verifiersCall { circuitId: circuit_id })
        }
    }

    /// Sets how long after its expiry a job still settles, in seconds (governance).
    pub fn set_settlement_grace(&self, chain: &mut dyn Chain, from: Address, seconds: u64) -> Result<Receipt> {
        let call = Settlement::setSettlementGraceCall { grace: seconds };
        self.send_as(chain, "set settlement grace", from, self.settlement, call)
    }

    /// Sets how far past the chain's clock an epoch may end, in ms (governance).
    pub fn set_clock_skew(&self, chain: &mut dyn Chain, from: Address, skew_ms: u64) -> Result<Receipt> {
        self.send_as(chain, "set clock skew", from, self.settlement, Settlement::setClockSkewCall { skewMs: skew_ms })
    }

    /// Sets whether meters need an attestor's approval (governance).
    pub fn set_attestation_required(&self, chain: &mut dyn Chain, from: Address, required: bool) -> Result<Receipt> {
        let call = Settlement::setAttestationRequiredCall { required };
        self.send_as(chain, "set attestation requirement", from, self.settlement, call)
    }

    /// The fee, the grace, the clock skew and the attestation requirement.
    pub fn settings(&self, chain: &mut dyn Chain) -> Result<Settings> {
        let s = self.settlement;
        Ok(Settings {
            protocol_fee_bps: view(chain, "protocolFeeBps", s, Settlement::protocolFeeBpsCall {})?,
            settlement_grace: view(chain, "settlementGrace", s, Settlement::settlementGraceCall {})?,
            clock_skew_ms: view(chain, "clockSkewMs", s, Settlement::clockSkewMsCall {})?,
            attestation_required: view(chain, "attestationRequired", s, Settlement::attestationRequiredCall {})?,
        })
    }

    /// Grants `role` to `account`, from `from` (who must hold the admin role).
    pub fn grant_role(&self, chain: &mut dyn Chain, from: Address, role: Role, account: Address) -> Result<Receipt> {
        let what = format!("grant the {} role", role.name());
        let to = role.contract(self);
        let data = if to == self.token {
            ResourceToken::grantRoleCall { role: role.id(), account }.abi_encode()
        } else {
            Settlement::grantRoleCall { role: role.id(), account }.abi_encode()
        };
        chain.transact(&what, from, Some(to), data.into())
    }

    /// Revokes `role` from `account`, from `from` (who must hold the admin role).
    pub fn revoke_role(&self, chain: &mut dyn Chain, from: Address, role: Role, account: Address) -> Result<Receipt> {
        let what = format!("revoke the {} role", role.name());
        let to = role.contract(self);
        let data = if to == self.token {
            ResourceToken::revokeRoleCall { role: role.id(), account }.abi_encode()
        } else {
            Settlement::revokeRoleCall { role: role.id(), account }.abi_encode()
        };
        chain.transact(&what, from, Some(to), data.into())
    }

    /// Whether `account` holds `role`.
    pub fn has_role(&self, chain: &mut dyn Chain, role: Role, account: Address) -> Result<bool> {
        if role == Role::Minter {
            view(chain, "hasRole", self.token, ResourceToken::hasRoleCall { role: role.id(), account })
        } else {
            view(chain, "hasRole", self.settlement, Settlement::hasRoleCall { role: role.id(), account })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DEV_ACCOUNTS, EmbeddedChain, deploy};

    #[test]
    fn roles_gate_what_each_account_may_do() {
        let mut chain = EmbeddedChain::in_memory();
        let d = deploy(&mut chain, &[], None).unwrap();
        let [admin, provider, consumer] = DEV_ACCOUNTS;
        assert!(d.has_role(&mut chain, Role::Governance, admin).unwrap());
        assert!(!d.has_role(&mut chain, Role::Attestor, admin).unwrap(), "nobody attests until the admin says so");
        let err = d.approve_meter(&mut chain, admin, provider).unwrap_err();
        assert!(err.is_revert_with("AccessControlUnauthorizedAccount"), "{err}");
        d.grant_role(&mut chain, admin, Role::Attestor, admin).unwrap();
        assert!(d.has_role(&mut chain, Role::Attestor, admin).unwrap());

        d.issue_tokens(&mut chain, admin, consumer, [10, 0, 0, 0, 5]).unwrap();
        let err = d.issue_tokens(&mut chain, consumer, consumer, [1, 0, 0, 0, 0]).unwrap_err();
        assert!(err.is_revert_with("AccessControlUnauthorizedAccount"), "{err}");
        d.transfer_tokens(&mut chain, consumer, provider, [4, 0, 0, 0, 5]).unwrap();
        let b = d.balances(&mut chain, provider).unwrap();
        assert_eq!(b, [4, 0, 0, 0, 5].map(U256::from));

        d.set_tariff(&mut chain, admin, 3, Tariff { amount: 3, per: 2 }).unwrap();
        assert_eq!(d.tariffs(&mut chain).unwrap()[3], Tariff { amount: 3, per: 2 });
        let err = d.set_tariff(&mut chain, consumer, 3, Tariff { amount: 1, per: 1 }).unwrap_err();
        assert!(err.is_revert_with("AccessControlUnauthorizedAccount"), "{err}");
        d.set_protocol_fee(&mut chain, admin, 250).unwrap();
        d.set_settlement_grace(&mut chain, admin, 30).unwrap();
        d.set_clock_skew(&mut chain, admin, 1_000).unwrap();
        d.set_attestation_required(&mut chain, admin, true).unwrap();
        let s = d.settings(&mut chain).unwrap();
        assert_eq!(s, Settings { protocol_fee_bps: 250, settlement_grace: 30, clock_skew_ms: 1_000, attestation_required: true });
        assert!(d.set_protocol_fee(&mut chain, admin, 1_001).unwrap_err().is_revert_with("ProtocolFeeTooHigh"));
        assert_eq!(Role::from_id(keccak256("MINTER_ROLE")), Some(Role::Minter));
    }
}
