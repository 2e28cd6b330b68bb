// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IGroth16Verifier
/// @notice What the settlement contract needs from a circuit's verifier: a yes/no answer
///         for one Groth16 proof over BN254 and the circuit's public inputs, always six
///         words: a circuit with fewer inputs takes them padded with zeros.
interface IGroth16Verifier {
    /// @notice Number of public inputs of the verifier's circuit: words of `input` from this
    ///         index on must be zero. The settlement contract registers a verifier only for
    ///         a circuit of the right kind: 5 for a meter circuit, 4 for a workload circuit.
    /// @return count 1 ..= 6.
    // forge-lint: disable-next-line(mixed-case-function) Groth16Verifier's public immutable
    function PUBLIC_INPUTS() external view returns (uint256 count);

    /// @notice Checks one Groth16 proof against the circuit's public inputs.
    /// @param proof A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y (the pairing
    ///        precompile's G2 order: imaginary part first).
    /// @param input The public inputs, each a BN254 scalar (< r), then zeros up to six.
    /// @return valid True iff the pairing equation holds. Malformed input (an input ≥ r,
    ///         a non-zero word beyond the circuit's inputs, a coordinate ≥ q, A, B or C at
    ///         infinity, a point off its curve or outside its subgroup) reverts.
    function verifyProof(uint256[8] calldata proof, uint256[6] calldata input) external view returns (bool valid);

    /// @notice Checks several proofs at once, as one random linear combination of their
    ///         pairing equations: n proofs cost n + 3 pairings instead of 4n.
    /// @param proofs One proof per statement, each in verifyProof's word order.
    /// @param inputs The public inputs of each proof, same order.
    /// @return valid True iff (with overwhelming probability) every proof is valid.
    ///         Malformed input reverts as in verifyProof.
    function verifyBatch(uint256[8][] calldata proofs, uint256[6][] calldata inputs) external view returns (bool valid);
}
