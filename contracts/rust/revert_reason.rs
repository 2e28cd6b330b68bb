//! A revert's custom error by name, with its arguments and what it means: the
//! `@notice` of its declaration in the contract's own source, compiled in with
//! the ABI, so a message says what the contract says and cannot drift from it.
//! OpenZeppelin's errors (inherited, their sources not in this repository) have
//! their meanings here.

use alloy::dyn_abi::{DynSolValue, JsonAbiExt};
use alloy::json_abi::JsonAbi;
use std::fmt;
use std::sync::OnceLock;

use crate::roles::Role;

/// The deployable contracts: name, artifact (ABI) and the sources that declare their errors.
const CONTRACTS: [(&str, &str, &[&str]); 3] = [
    ("Settlement", include_str!("../artifacts/Settlement.json"), &[include_str!("../src/Settlement.sol")]),
    ("ResourceToken", include_str!("../artifacts/ResourceToken.json"), &[include_str!("../src/ResourceToken.sol")]),
    (
        "Groth16Verifier",
        include_str!("../artifacts/Groth16Verifier.json"),
        &[include_str!("../src/Groth16Verifier.sol"), include_str!("../src/IGroth16Verifier.sol")],
    ),
];

/// What OpenZeppelin's errors mean, in the words of their NatSpec.
const INHERITED: [(&str, &str); 14] = [
    ("AccessControlUnauthorizedAccount", "`account` lacks the `neededRole` role this call needs"),
    ("AccessControlBadConfirmation", "renounceRole must be confirmed with the caller's own address"),
    ("ERC1155InsufficientBalance", "`sender` holds `balance` of token `tokenId`, fewer than the `needed` asked for"),
    ("ERC1155MissingApprovalForAll", "`operator` may not move the tokens of `owner`: the owner must approve it first"),
    ("ERC1155InvalidReceiver", "`receiver` cannot receive tokens (zero, or a contract that does not accept ERC-1155 tokens)"),
    ("ERC1155InvalidSender", "`sender` cannot send tokens (the zero address)"),
    ("ERC1155InvalidArrayLength", "`idsLength` token ids but `valuesLength` amounts"),
    ("ERC1155InvalidApprover", "`approver` cannot approve (the zero address)"),
    ("ERC1155InvalidOperator", "`operator` cannot be approved (the zero address, or the owner itself)"),
    ("ECDSAInvalidSignature", "the signature is not a valid secp256k1 signature"),
    ("ECDSAInvalidSignatureLength", "a signature is 65 bytes, this one `length`"),
    ("ECDSAInvalidSignatureS", "the signature's s is in the upper half of the curve order (malleable): sign with low s"),
    ("StringTooLong", "the EIP-712 name or version is too long"),
    ("InvalidShortString", "the EIP-712 name or version is not a short string"),
];

/// A decoded custom error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractError {
    /// The contract that declares it.
    pub contract: &'static str,
    /// The error's name.
    pub name: String,
    /// Its arguments: name and value, in order.
    pub args: Vec<(String, String)>,
    /// What it means, its argument names replaced by their values, if known.
    pub meaning: Option<String>,
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(|(n, v)| format!("{n} {v}")).collect();
        write!(f, "{}.{}({})", self.contract, self.name, args.join(", "))?;
        if let Some(meaning) = &self.meaning {
            write!(f, ": {meaning}")?;
        }
        Ok(())
    }
}

fn abis() -> &'static [(&'static str, JsonAbi, &'static [&'static str])] {
    static ABIS: OnceLock<Vec<(&'static str, JsonAbi, &'static [&'static str])>> = OnceLock::new();
    ABIS.get_or_init(|| {
        CONTRACTS
            .iter()
            .map(|(name, artifact, sources)| {
                let value: serde_json::Value = serde_json::from_str(artifact).expect("committed artifacts are JSON");
                let abi: JsonAbi = serde_json::from_value(value["abi"].clone()).expect("committed artifacts hold an ABI");
                (*name, abi, *sources)
            })
            .collect()
    })
}

/// The custom error of any zkmeter contract that `data` encodes, if it is one.
pub fn explain(data: &[u8]) -> Option<ContractError> {
    let selector: [u8; 4] = data.get(..4)?.try_into().ok()?;
    for (contract, abi, sources) in abis() {
        let Some(error) = abi.errors().find(|e| e.selector() == selector) else { continue };
        let values = error.abi_decode_input(&data[4..]).ok()?;
        let args: Vec<(String, String)> =
            error.inputs.iter().zip(&values).map(|(p, v)| (p.name.clone(), show(v, &p.name))).collect();
        let notice = sources
            .iter()
            .find_map(|s| notice(s, &error.name))
            .or_else(|| INHERITED.iter().find(|(n, _)| *n == error.name).map(|(_, m)| (*m).to_owned()));
        let meaning = notice.map(|n| fill(&n, &args));
        return Some(ContractError { contract, name: error.name.clone(), args, meaning });
    }
    None
}

fn show(value: &DynSolValue, name: &str) -> String {
    match value {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::FixedBytes(word, 32) if name.to_lowercase().contains("role") => {
            Role::from_id(*word).map_or_else(|| word.to_string(), |r| r.name().to_owned())
        }
        DynSolValue::FixedBytes(word, size) => format!("0x{}", alloy::hex::encode(&word[..*size])),
        DynSolValue::Bytes(b) => format!("{} bytes", b.len()),
        other => format!("{other:?}"),
    }
}

/// The `@notice` text of `error <name>(` in `source`, on one line.
fn notice(source: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with(&format!("error {name}(")))?;
    let mut doc: Vec<&str> = lines[..at].iter().rev().map_while(|l| l.trim_start().strip_prefix("///")).collect();
    doc.reverse();
    let text = doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    let notice = text.split("@notice").nth(1)?;
    // Only the notice: a later tag (@dev, @param) starts another part.
    let notice = notice.split(" @").next().unwrap_or(notice).trim();
    (!notice.is_empty()).then(|| notice.to_owned())
}

/// `text` with each `name` of an argument replaced by its value, and other
/// code quotes unquoted.
fn fill(text: &str, args: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(args.iter().find(|(n, _)| n == part).map_or(part, |(_, v)| v));
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::{ResourceToken, Settlement};
    use alloy::primitives::{Address, U256};
    use alloy::sol_types::SolError;

    #[test]
    fn errors_are_named_with_their_arguments_and_the_contracts_own_words() {
        let e = explain(&Settlement::JobNotExpired { jobId: 7, closableAfter: U256::from(1_700_000_000u64) }.abi_encode()).unwrap();
        assert_eq!(e.to_string(), "Settlement.JobNotExpired(jobId 7, closableAfter 1700000000): Only the provider may close job 7 before 1700000000.");
        let e = explain(&Settlement::AccessControlUnauthorizedAccount { account: Address::ZERO, neededRole: Role::Attestor.id() }.abi_encode()).unwrap();
        assert!(e.to_string().ends_with("lacks the attestor role this call needs"), "{e}");
        let e = explain(&ResourceToken::ERC1155InsufficientBalance {
            sender: Address::ZERO,
            balance: U256::from(1),
            needed: U256::from(2),
            tokenId: U256::from(3),
        }
        .abi_encode())
        .unwrap();
        assert!(e.to_string().contains("holds 1 of token 3, fewer than the 2 asked for"), "{e}");
        assert_eq!(explain(&[1, 2, 3, 4]), None);
        // Every error of every contract has a meaning.
        for (contract, abi, _) in abis() {
            for error in abi.errors() {
                let data = [&error.selector()[..], &vec![0u8; 32 * error.inputs.len()]].concat();
                let e = explain(&data).unwrap_or_else(|| panic!("{contract}.{} does not decode", error.name));
                assert!(e.meaning.is_some(), "{contract}.{} has no @notice", error.name);
            }
        }
    }
}
