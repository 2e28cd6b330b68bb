//! Exit codes, so that scripts can tell what went wrong without reading the
//! message, and the one line every failure prints.
//!
//! | code | meaning |
//! |---:|---|
//! | 0 | done |
//! | 1 | any other failure (a file that cannot be read, a proof that does not verify, …) |
//! | 2 | bad input: a malformed argument, an amount in the wrong unit, a missing key (clap's usage errors are 2 too) |
//! | 3 | not found: no such job, meter, deployment or file on this chain |
//! | 4 | refused by the contract: the transaction or call reverted (the contract's error is named) |
//! | 5 | node unreachable: the JSON-RPC node did not answer |
//!
//! The message goes to stderr as `error: …`, or with `--json` as one JSON object
//! `{"error": {"code": …, "kind": …, "message": …}}`, so a script reading stdout
//! never parses a half-written table.

use std::fmt;
use std::process::ExitCode;
use zkmeter_contracts::ChainError;

/// What kind of failure, and its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Anything else: 1.
    Other = 1,
    /// Bad input: 2.
    Invalid = 2,
    /// No such thing: 3.
    NotFound = 3,
    /// The contract refused: 4.
    Refused = 4,
    /// The node did not answer: 5.
    Unreachable = 5,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Other => "failed",
            Kind::Invalid => "invalid_input",
            Kind::NotFound => "not_found",
            Kind::Refused => "refused_by_contract",
            Kind::Unreachable => "node_unreachable",
        }
    }
}

/// A failure whose kind the command knows (a missing job, a malformed amount).
#[derive(Debug)]
pub struct Failure {
    kind: Kind,
    message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Bad input, saying what was wrong and what to write instead.
pub fn invalid(message: impl Into<String>) -> anyhow::Error {
    Failure { kind: Kind::Invalid, message: message.into() }.into()
}

/// Something asked for that is not there.
pub fn not_found(message: impl Into<String>) -> anyhow::Error {
    Failure { kind: Kind::NotFound, message: message.into() }.into()
}

/// The kind of `error`: the first cause in its chain that has one.
pub fn kind_of(error: &anyhow::Error) -> Kind {
    for cause in error.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.kind;
        }
        if let Some(e) = cause.downcast_ref::<ChainError>() {
            match e {
                ChainError::Unreachable { .. } => return Kind::Unreachable,
                ChainError::Reverted { .. } => return Kind::Refused,
                ChainError::NoChain { .. } => return Kind::NotFound,
                ChainError::BadUrl { .. } | ChainError::NoSigner(_) | ChainError::Key(_) | ChainError::Invalid(_) => {
                    return Kind::Invalid;
                }
                _ => {}
            }
        }
    }
    Kind::Other
}

/// One line for `error`: the contexts outermost first, a revert as "refused by
/// the contract".
fn message(error: &anyhow::Error) -> String {
    let parts: Vec<String> = error
        .chain()
        .map(|cause| match cause.downcast_ref::<ChainError>() {
            Some(ChainError::Reverted { what, reason, .. }) => format!("{what} refused by the contract: {reason}"),
            _ => cause.to_string(),
        })
        .collect();
    parts.join(": ")
}

/// Prints `result`'s failure, if any, and turns it into the exit code.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    let Err(error) = result else { return ExitCode::SUCCESS };
    let kind = kind_of(&error);
    let message = message(&error);
    if std::env::args().any(|a| a == "--json") {
        let json = serde_json::json!({ "error": { "code": kind as u8, "kind": kind.name(), "message": message } });
        eprintln!("{json}");
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::from(kind as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_first_known_cause_decides() {
        let e = Err::<(), _>(ChainError::Unreachable { url: "http://127.0.0.1:1".into(), reason: "refused".into() })
            .context("cannot read job 3")
            .unwrap_err();
        assert_eq!(kind_of(&e), Kind::Unreachable);
        assert_eq!(kind_of(&not_found("no job 9")), Kind::NotFound);
        assert_eq!(kind_of(&anyhow::anyhow!("disk full")), Kind::Other);
        let revert = ChainError::Reverted { what: "close job".into(), reason: "Settlement.JobNotOpen(jobId 3)".into(), data: Default::default(), gas_used: None };
        let e = anyhow::Error::from(revert);
        assert_eq!(kind_of(&e), Kind::Refused);
        assert_eq!(message(&e), "close job refused by the contract: Settlement.JobNotOpen(jobId 3)");
    }
}
