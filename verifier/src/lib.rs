//! zkmeter-verifier (being written).
