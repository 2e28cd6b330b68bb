//! ABI bindings, generated at compile time by alloy's `sol!` from the committed
//! artifacts in `contracts/artifacts/` (ABI + creation bytecode), so building this
//! crate needs neither node nor forge. Rebuild the artifacts with `npm run artifacts`
//! in `contracts/` after changing a Solidity source.
//!
//! Each contract is a module: its functions are `<name>Call` structs (encode with
//! [`SolCall::abi_encode`](alloy::sol_types::SolCall::abi_encode)), its events
//! `<Name>` structs, its errors `<Name>` structs gathered in `<Contract>Errors`, and
//! its creation code is `<Contract>::BYTECODE`.

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol_types::{SolInterface, decode_revert_reason};

alloy::sol!(
    #[sol(all_derives)]
    Settlement,
    "artifacts/Settlement.json"
);

alloy::sol!(
    #[sol(all_derives)]
    ResourceToken,
    "artifacts/ResourceToken.json"
);

alloy::sol!(
    #[sol(all_derives)]
    Groth16Verifier,
    "artifacts/Groth16Verifier.json"
);

/// Turns revert data into a readable reason: a custom error of any zkmeter contract
/// by name, with its arguments and meaning ([`crate::revert_reason`]) and advice
/// for the common ones, `Error(string)`, `Panic(uint256)`, or what the data is not.
pub fn decode_revert(data: &[u8]) -> String {
    if data.is_empty() {
        return "reverted without a reason (out of gas, or a call to an address without code)".into();
    }
    if let Some(error) = crate::revert_reason::explain(data) {
        let advice = match (Settlement::SettlementErrors::abi_decode(data), ResourceToken::ResourceTokenErrors::abi_decode(data)) {
            (Ok(e), _) => settlement_advice(&e),
            (_, Ok(e)) => token_advice(&e),
            _ => "",
        };
        return if advice.is_empty() { error.to_string() } else { format!("{error} ({advice})") };
    }
    if let Some(reason) = decode_revert_reason(data) {
        return reason;
    }
    format!(
        "an error no zkmeter contract declares ({} bytes of revert data): is the deployment file the one for this chain?",
        data.len()
    )
}

fn settlement_advice(e: &Settlement::SettlementErrors) -> &'static str {
    use Settlement::SettlementErrors as E;
    match e {
        E::StaleState(_) => {
            "the statement does not continue the stored stream state (the epoch was settled \
             already, or the proof starts from another state): read the stream state and \
             prove the next epoch from it"
        }
        E::WrongMeterSignature(_) => {
            "the signature over the new state was not made by the job's meter key: sign with \
             the meter's key, over this deployment's chain id and settlement address"
        }
        E::InvalidProof(_) => {
            "the proof does not verify against the statement (an epoch's with the job's \
             capacity, work's with its job id and work units): prove with the circuit \
             registered under this circuit id, for this exact statement"
        }
        E::UnknownCircuit(_) => "no verifier is registered for this circuit id: deploy one for this N (zkmeter chain deploy)",
        E::UnknownWorkCircuit(_) => {
            "no workload verifier is registered for this circuit id: deploy the workload \
             circuit's verifier (Deployment::add_work_circuit); meter circuits do not settle work"
        }
        E::WorkNotRequested(_) => {
            "the job's consumer has not requested this work (job, circuit, model and input \
             commitments): only requested work is billed"
        }
        E::WorkAlreadySettled(_) => {
            "this work was settled already (by this settler before a restart, or by anyone \
             else with any proof of it): treat it as done"
        }
        E::WorkAlreadyRequested(_) => "this work is requested already and waits for its proof",
        E::CommitmentNotInField(_) => "a commitment must be below the BN254 scalar modulus r",
        E::NotConsumer(_) => "send it from the consumer's account",
        E::MeterNotRegistered(_) => "register the meter first (its provider calls registerMeter)",
        E::MeterNotApproved(_) => "attestation is required: an attestor must approve the meter",
        E::JobNotOpen(_) => "`zkmeter job list` shows the jobs and which are open",
        E::JobExpired(_) => "nothing settles after the deadline: close the job to refund what its escrow holds",
        E::JobNotExpired(_) => "ask the job's provider to close it, or close it yourself after that time",
        E::ExpiryInPast(_) => "give an expiry (Unix seconds) after the current block's timestamp",
        E::WrongRegistrationSignature(_) => {
            "the meter's consent was not signed by the meter key for this provider, chain and \
             settlement contract: sign MeterRegistration with the meter's own key"
        }
        E::MeterOwnedByOther(_) => "another provider registered this meter first; meters belong to their first registrant",
        E::CapacityUnavailable(_) => {
            "the meter's registration, less what its other open jobs hold, is smaller than the \
             capacity asked for: ask for less, or wait until its other jobs close"
        }
        E::CapacityBelowOpenJobs(_) => {
            "the meter's open jobs hold more than this capacity: close them first, or register more"
        }
        E::EpochEndsAfterNow(_) => {
            "the epoch ends later than the chain's time plus the allowed clock skew: a meter \
             cannot bill time that has not passed; check the meter's clock"
        }
        E::EpochEndsAfterExpiry(_) => "the epoch ends after the job's expiry: the job does not pay for time after it",
        E::TotalTooLarge(_) => "a class's total does not fit its lane in the statement: settle smaller epochs",
        E::WrongPublicInputCount(_) => "this verifier was made for another circuit kind (meter: 5 public inputs, workload: 4)",
        E::AccessControlUnauthorizedAccount(_) => "send from an account that holds it, or have the admin grant it",
        _ => "",
    }
}

fn token_advice(e: &ResourceToken::ResourceTokenErrors) -> &'static str {
    use ResourceToken::ResourceTokenErrors as E;
    match e {
        E::ERC1155InsufficientBalance(_) => "the account holds fewer tokens than it tries to escrow: mint or buy more first",
        E::ERC1155MissingApprovalForAll(_) => "the consumer must approve the settlement contract on the token (setApprovalForAll)",
        E::AccessControlUnauthorizedAccount(_) => "only minters issue tokens: use the deployer's account or have the admin grant the role",
        _ => "",
    }
}
