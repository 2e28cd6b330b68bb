// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGroth16Verifier} from "./IGroth16Verifier.sol";

/// @title Groth16Verifier
/// @notice Verifies Groth16 proofs over BN254 for any circuit with one to six public inputs:
///         every zkmeter meter circuit (six, whatever its number of record slots) and every
///         workload circuit (four). One instance is deployed per circuit; its verifying key
///         is fixed at deployment and held in immutables, so verifying reads no storage.
/// @dev The check is e(−A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) = 1 with
///      vk_x = IC[0] + Σ input[i] · IC[i + 1], computed with the precompiles 0x06 (ecAdd),
///      0x07 (ecMul) and 0x08 (pairing). G2 points are written x.c1, x.c0, y.c1, y.c0, the
///      order the pairing precompile reads. Groth16 proofs are malleable: callers must key
///      replay protection on the statement, never on the proof bytes.
///
///      Proof points are checked before any precompile sees them: A and C must be G1
///      points other than the point at infinity, B a point of the twist other than the
///      point at infinity. The pairing precompile is called with only the gas the pairing
///      costs (45 000 + 34 000 per pair, plus PAIRING_GAS_MARGIN), so the one malformed
///      proof left for it to find, B on the twist but outside G2's subgroup, costs a
///      bounded amount of gas (a failing precompile burns all the gas it was given).
///
///      The interface always takes six inputs, so one settlement path serves every
///      circuit. A circuit with k < 6 inputs stores IC[k + 1..6] as the point at infinity
///      (0, 0) and takes its inputs padded with zeros: an unused input must be zero
///      (`UnusedInputNotZero`), since with a zero IC point any value there would verify,
///      and a zero input skips its ecMul and ecAdd, so padding costs next to nothing.
contract Groth16Verifier is IGroth16Verifier {
    /// @notice Most public inputs a circuit can have: the length of every input array.
    uint256 public constant MAX_PUBLIC_INPUTS = 6;

    /// @notice Number of public inputs of this verifier's circuit (1 ..= MAX_PUBLIC_INPUTS):
    ///         inputs from this index on must be zero.
    uint256 public immutable PUBLIC_INPUTS;

    /// @dev Order of BN254's groups: public inputs are scalars below it.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev BN254's base field modulus: every coordinate is below it.
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @dev b' = 3 / (9 + u) of the twist y² = x³ + b' over Fq2 = Fq[u]/(u² + 1): c0, c1.
    uint256 internal constant TWIST_B0 = 19485874751759354771024239261021720505790618469301721065564631296452457478373;
    uint256 internal constant TWIST_B1 = 266929791119991161246907387137283842545076965332900288569378510910307636690;
    /// @dev Gas of the pairing precompile (EIP-1108): 45 000 + 34 000 per pair.
    uint256 internal constant PAIRING_BASE_GAS = 45_000;
    uint256 internal constant PAIRING_PAIR_GAS = 34_000;
    /// @dev Gas given to the pairing precompile beyond its price: the call's own overhead.
    uint256 internal constant PAIRING_GAS_MARGIN = 2_000;

    uint256 private immutable ALPHA_X;
    uint256 private immutable ALPHA_Y;
    uint256 private immutable BETA_X1;
    uint256 private immutable BETA_X0;
    uint256 private immutable BETA_Y1;
    uint256 private immutable BETA_Y0;
    uint256 private immutable GAMMA_X1;
    uint256 private immutable GAMMA_X0;
    uint256 private immutable GAMMA_Y1;
    uint256 private immutable GAMMA_Y0;
    uint256 private immutable DELTA_X1;
    uint256 private immutable DELTA_X0;
    uint256 private immutable DELTA_Y1;
    uint256 private immutable DELTA_Y0;
    uint256 private immutable IC0_X;
    uint256 private immutable IC0_Y;
    uint256 private immutable IC1_X;
    uint256 private immutable IC1_Y;
    uint256 private immutable IC2_X;
    uint256 private immutable IC2_Y;
    uint256 private immutable IC3_X;
    uint256 private immutable IC3_Y;
    uint256 private immutable IC4_X;
    uint256 private immutable IC4_Y;
    uint256 private immutable IC5_X;
    uint256 private immutable IC5_Y;
    uint256 private immutable IC6_X;
    uint256 private immutable IC6_Y;

    /// @notice The verifying key has `icPoints` IC points; it needs one more than the
    ///         circuit's public inputs, so 2 ..= MAX_PUBLIC_INPUTS + 1.
    error VerifyingKeyLength(uint256 icPoints);
    /// @notice A coordinate of the verifying key is not below q.
    error VerifyingKeyNotInField();
    /// @notice A G1 point of the verifying key is not on the curve.
    error VerifyingKeyG1PointInvalid();
    /// @notice β, γ or δ is not a point of BN254's G2 (the pairing precompile refused it).
    error VerifyingKeyG2PointInvalid();
    /// @notice Public input `index` is not below the scalar field modulus r.
    error InputNotInField(uint256 index);
    /// @notice Input word `index` is beyond the circuit's PUBLIC_INPUTS and is not zero.
    error UnusedInputNotZero(uint256 index);
    /// @notice Proof word `index` is not below the base field modulus q.
    error CoordinateNotInField(uint256 index);
    /// @notice The proof point starting at word `index` (A: 0, B: 2, C: 6; in a batch, plus
    ///         8 per earlier proof) is the point at infinity (all its words zero).
    error ProofPointAtInfinity(uint256 index);
    /// @notice The proof point starting at word `index` (A: 0, B: 2, C: 6; in a batch, plus
    ///         8 per earlier proof) is not on its curve: A and C on y² = x³ + 3, B on the
    ///         twist y² = x³ + 3/(9 + u).
    error ProofPointNotOnCurve(uint256 index);
    /// @notice A batch needs at least one proof and as many input sets as proofs.
    error BatchLength(uint256 proofs, uint256 inputs);
    /// @notice The precompile at `precompile` failed: for 0x08, B is not in G2's subgroup
    ///         (every other malformed point is refused before); for any of them, the call
    ///         ran out of gas.
    error PrecompileFailed(uint256 precompile);

    /// @notice Fixes the verifying key.
    /// @param alpha α ∈ G1: x, y.
    /// @param beta β ∈ G2: x.c1, x.c0, y.c1, y.c0.
    /// @param gamma γ ∈ G2, same order.
    /// @param delta δ ∈ G2, same order.
    /// @param ic IC[0..k] ∈ G1, each x, y: the constant plus one point per public input,
    ///        for a circuit with k = ic.length − 1 public inputs (1 ..= 6).
    /// @dev Refuses coordinates ≥ q and G1 points off the curve, and has the pairing
    ///      precompile check β, γ and δ once, so a broken key fails here, not at every proof.
    ///      IC points beyond k are held as (0, 0).
    constructor(
        uint256[2] memory alpha,
        uint256[4] memory beta,
        uint256[4] memory gamma,
        uint256[4] memory delta,
        uint256[2][] memory ic
    ) {
        uint256 points = ic.length;
        if (points < 2 || points > MAX_PUBLIC_INPUTS + 1) revert VerifyingKeyLength(points);
        _checkG1(alpha);
        for (uint256 i; i < points; ++i) {
            _checkG1(ic[i]);
        }
        _checkG2(beta, gamma, delta);
        PUBLIC_INPUTS = points - 1;
        // Unused points stay (0, 0): with their inputs forced to zero they add nothing.
        uint256[2][MAX_PUBLIC_INPUTS + 1] memory all;
        for (uint256 i; i < points; ++i) {
            all[i] = ic[i];
        }

        (ALPHA_X, ALPHA_Y) = (alpha[0], alpha[1]);
        (BETA_X1, BETA_X0, BETA_Y1, BETA_Y0) = (beta[0], beta[1], beta[2], beta[3]);
        (GAMMA_X1, GAMMA_X0, GAMMA_Y1, GAMMA_Y0) = (gamma[0], gamma[1], gamma[2], gamma[3]);
        (DELTA_X1, DELTA_X0, DELTA_Y1, DELTA_Y0) = (delta[0], delta[1], delta[2], delta[3]);
        (IC0_X, IC0_Y) = (all[0][0], all[0][1]);
        (IC1_X, IC1_Y) = (all[1][0], all[1][1]);
        (IC2_X, IC2_Y) = (all[2][0], all[2][1]);
        (IC3_X, IC3_Y) = (all[3][0], all[3][1]);
        (IC4_X, IC4_Y) = (all[4][0], all[4][1]);
        (IC5_X, IC5_Y) = (all[5][0], all[5][1]);
        (IC6_X, IC6_Y) = (all[6][0], all[6][1]);
    }

    /// @inheritdoc IGroth16Verifier
    function verifyProof(uint256[8] calldata proof, uint256[6] calldata input) external view returns (bool) {
        _checkProof(proof, 0);
        uint256 used = PUBLIC_INPUTS;
        for (uint256 i; i < used; ++i) {
            if (input[i] >= R) revert InputNotInField(i);
        }
        for (uint256 i = used; i < MAX_PUBLIC_INPUTS; ++i) {
            if (input[i] != 0) revert UnusedInputNotZero(i);
        }

        // vk_x = IC[0] + Σ input[i] · IC[i + 1]; acc holds [vk_x.x, vk_x.y, scratch, scratch].
        uint256[4] memory acc;
        (acc[0], acc[1]) = (IC0_X, IC0_Y);
        _accumulate(acc, IC1_X, IC1_Y, input[0]);
        _accumulate(acc, IC2_X, IC2_Y, input[1]);
        _accumulate(acc, IC3_X, IC3_Y, input[2]);
        _accumulate(acc, IC4_X, IC4_Y, input[3]);
        _accumulate(acc, IC5_X, IC5_Y, input[4]);
        _accumulate(acc, IC6_X, IC6_Y, input[5]);

        uint256[24] memory p;
        // −A: negate y. A is on the curve and not at infinity, so 0 < A.y < q.
        (p[0], p[1]) = (proof[0], Q - proof[1]);
        (p[2], p[3], p[4], p[5]) = (proof[2], proof[3], proof[4], proof[5]);
        (p[6], p[7]) = (ALPHA_X, ALPHA_Y);
        (p[8], p[9], p[10], p[11]) = (BETA_X1, BETA_X0, BETA_Y1, BETA_Y0);
        (p[12], p[13]) = (acc[0], acc[1]);
        (p[14], p[15], p[16], p[17]) = (GAMMA_X1, GAMMA_X0, GAMMA_Y1, GAMMA_Y0);
        (p[18], p[19]) = (proof[6], proof[7]);
        (p[20], p[21], p[22], p[23]) = (DELTA_X1, DELTA_X0, DELTA_Y1, DELTA_Y0);

        bool ok;
        uint256 result;
        uint256 gasLimit = _pairingGas(4);
        assembly ("memory-safe") {
            ok := staticcall(gasLimit, 0x08, p, 0x300, p, 0x20)
            result := mload(p)
        }
        if (!ok) revert PrecompileFailed(0x08);
        return result == 1;
    }

    /// @inheritdoc IGroth16Verifier
    /// @dev With coefficients ρ_0 = 1 and ρ_i = H(proofs, inputs, i) mod (r − 1) + 1, checks
    ///      Π e(−ρ_i·A_i, B_i) · e(Σρ_i·α, β) · e(Σρ_i·vk_x_i, γ) · e(Σρ_i·C_i, δ) = 1, where
    ///      Σρ_i·vk_x_i = (Σρ_i)·IC[0] + Σ_j (Σ_i ρ_i·input_i[j])·IC[j + 1] costs seven scalar
    ///      multiplications whatever n is. The ρ_i are fixed by everything the submitter
    ///      chose, so a batch with an invalid proof passes with probability about n / r.
    function verifyBatch(uint256[8][] calldata proofs, uint256[6][] calldata inputs) external view returns (bool) {
        uint256 n = proofs.length;
        if (n == 0 || inputs.length != n) revert BatchLength(n, inputs.length);
        uint256 used = PUBLIC_INPUTS;
        for (uint256 i; i < n; ++i) {
            _checkProof(proofs[i], 8 * i);
            for (uint256 k; k < used; ++k) {
                if (inputs[i][k] >= R) revert InputNotInField(MAX_PUBLIC_INPUTS * i + k);
            }
            for (uint256 k = used; k < MAX_PUBLIC_INPUTS; ++k) {
                if (inputs[i][k] != 0) revert UnusedInputNotZero(MAX_PUBLIC_INPUTS * i + k);
            }
        }
        bytes32 seed = keccak256(abi.encode(proofs, inputs));

        // Pairs 0..n-1: (−ρ_i·A_i, B_i); then (Σρ·α, β), (Σρ·vk_x, γ), (Σρ·C, δ).
        uint256[] memory p = new uint256[](6 * (n + 3));
        uint256[4] memory cSum; // [x, y, scratch, scratch]
        uint256[MAX_PUBLIC_INPUTS] memory xs; // Σ_i ρ_i·input_i[j]
        uint256 rhoSum;
        for (uint256 i; i < n; ++i) {
            uint256 rho = i == 0 ? 1 : uint256(keccak256(abi.encode(seed, i))) % (R - 1) + 1;
            rhoSum = addmod(rhoSum, rho, R);
            for (uint256 k; k < used; ++k) {
                xs[k] = addmod(xs[k], mulmod(rho, inputs[i][k], R), R);
            }
            uint256[8] calldata proof = proofs[i];
            // −A: A is on the curve and not at infinity, so 0 < A.y < q.
            _mulInto(p, 6 * i, proof[0], Q - proof[1], rho);
            (p[6 * i + 2], p[6 * i + 3], p[6 * i + 4], p[6 * i + 5]) = (proof[2], proof[3], proof[4], proof[5]);
            _accumulate(cSum, proof[6], proof[7], rho);
        }

        uint256 o = 6 * n;
        _mulInto(p, o, ALPHA_X, ALPHA_Y, rhoSum);
        (p[o + 2], p[o + 3], p[o + 4], p[o + 5]) = (BETA_X1, BETA_X0, BETA_Y1, BETA_Y0);

        uint256[4] memory acc;
        _accumulate(acc, IC0_X, IC0_Y, rhoSum);
        _accumulate(acc, IC1_X, IC1_Y, xs[0]);
        _accumulate(acc, IC2_X, IC2_Y, xs[1]);
        _accumulate(acc, IC3_X, IC3_Y, xs[2]);
        _accumulate(acc, IC4_X, IC4_Y, xs[3]);
        _accumulate(acc, IC5_X, IC5_Y, xs[4]);
        _accumulate(acc, IC6_X, IC6_Y, xs[5]);
        (p[o + 6], p[o + 7]) = (acc[0], acc[1]);
        (p[o + 8], p[o + 9], p[o + 10], p[o + 11]) = (GAMMA_X1, GAMMA_X0, GAMMA_Y1, GAMMA_Y0);

        (p[o + 12], p[o + 13]) = (cSum[0], cSum[1]);
        (p[o + 14], p[o + 15], p[o + 16], p[o + 17]) = (DELTA_X1, DELTA_X0, DELTA_Y1, DELTA_Y0);

        bool ok;
        uint256 result;
        uint256 gasLimit = _pairingGas(n + 3);
        assembly ("memory-safe") {
            let data := add(p, 0x20)
            ok := staticcall(gasLimit, 0x08, data, mul(mload(p), 0x20), 0, 0x20)
            result := mload(0)
        }
        if (!ok) revert PrecompileFailed(0x08);
        return result == 1;
    }

    /// @notice The verifying key, in the constructor's word orders.
    /// @return alpha α: x, y.
    /// @return beta β: x.c1, x.c0, y.c1, y.c0.
    /// @return gamma γ, same order.
    /// @return delta δ, same order.
    /// @return ic IC[0..6], each x, y; those beyond PUBLIC_INPUTS are (0, 0).
    function verifyingKey()
        external
        view
        returns (
            uint256[2] memory alpha,
            uint256[4] memory beta,
            uint256[4] memory gamma,
            uint256[4] memory delta,
            uint256[2][7] memory ic
        )
    {
        alpha = [ALPHA_X, ALPHA_Y];
        beta = [BETA_X1, BETA_X0, BETA_Y1, BETA_Y0];
        gamma = [GAMMA_X1, GAMMA_X0, GAMMA_Y1, GAMMA_Y0];
        delta = [DELTA_X1, DELTA_X0, DELTA_Y1, DELTA_Y0];
        ic = [
            [IC0_X, IC0_Y],
            [IC1_X, IC1_Y],
            [IC2_X, IC2_Y],
            [IC3_X, IC3_Y],
            [IC4_X, IC4_Y],
            [IC5_X, IC5_Y],
            [IC6_X, IC6_Y]
        ];
    }

    /// @dev acc[0..1] += s · (x, y); a zero scalar adds nothing and costs nothing.
    function _accumulate(uint256[4] memory acc, uint256 x, uint256 y, uint256 s) private view {
        if (s == 0) return;
        bool mulOk;
        bool addOk;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, x)
            mstore(add(m, 0x20), y)
            mstore(add(m, 0x40), s)
            mulOk := staticcall(gas(), 0x07, m, 0x60, add(acc, 0x40), 0x40)
            addOk := staticcall(gas(), 0x06, acc, 0x80, acc, 0x40)
        }
        if (!mulOk) revert PrecompileFailed(0x07);
        if (!addOk) revert PrecompileFailed(0x06);
    }

    /// @dev p[at], p[at + 1] = s · (x, y).
    function _mulInto(uint256[] memory p, uint256 at, uint256 x, uint256 y, uint256 s) private view {
        bool ok;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, x)
            mstore(add(m, 0x20), y)
            mstore(add(m, 0x40), s)
            ok := staticcall(gas(), 0x07, m, 0x60, add(add(p, 0x20), mul(at, 0x20)), 0x40)
        }
        if (!ok) revert PrecompileFailed(0x07);
    }

    /// @dev The gas a pairing check of `pairs` pairs costs, plus the margin: all the
    ///      precompile gets, so a B outside G2's subgroup burns no more than that.
    function _pairingGas(uint256 pairs) private pure returns (uint256) {
        return PAIRING_BASE_GAS + PAIRING_PAIR_GAS * pairs + PAIRING_GAS_MARGIN;
    }

    /// @dev Refuses a proof the precompiles should never see: a word ≥ q, A or C at
    ///      infinity or off y² = x³ + 3, B at infinity or off the twist. `index` is the
    ///      proof's first word in the caller's numbering (8·i in a batch). Without this, an
    ///      off-curve point would make the pairing precompile fail and burn its gas, and
    ///      A or C at infinity would drop a term from the pairing equation.
    function _checkProof(uint256[8] calldata proof, uint256 index) private pure {
        for (uint256 k; k < 8; ++k) {
            if (proof[k] >= Q) revert CoordinateNotInField(index + k);
        }
        (uint256 ax, uint256 ay, uint256 cx, uint256 cy) = (proof[0], proof[1], proof[6], proof[7]);
        if (ax == 0 && ay == 0) revert ProofPointAtInfinity(index);
        if (!_onG1(ax, ay)) revert ProofPointNotOnCurve(index);
        (uint256 x1, uint256 x0, uint256 y1, uint256 y0) = (proof[2], proof[3], proof[4], proof[5]);
        if (x1 == 0 && x0 == 0 && y1 == 0 && y0 == 0) revert ProofPointAtInfinity(index + 2);
        if (!_onTwist(x1, x0, y1, y0)) revert ProofPointNotOnCurve(index + 2);
        if (cx == 0 && cy == 0) revert ProofPointAtInfinity(index + 6);
        if (!_onG1(cx, cy)) revert ProofPointNotOnCurve(index + 6);
    }

    /// @dev y² = x³ + 3 over Fq, for x, y < q. (G1 has cofactor 1: on the curve is in G1.)
    function _onG1(uint256 x, uint256 y) private pure returns (bool) {
        return mulmod(y, y, Q) == addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q);
    }

    /// @dev y² = x³ + b' over Fq2 (u² = −1), for x = x0 + x1·u and y = y0 + y1·u with every
    ///      part < q. A point that passes may still lie outside G2's subgroup; the pairing
    ///      precompile refuses those.
    function _onTwist(uint256 x1, uint256 x0, uint256 y1, uint256 y0) private pure returns (bool on) {
        assembly ("memory-safe") {
            // x² = (x0² − x1²) + 2·x0·x1·u; a − b is a + (q − b) mod q.
            let a0 := addmod(mulmod(x0, x0, Q), sub(Q, mulmod(x1, x1, Q)), Q)
            let a1 := mulmod(addmod(x0, x0, Q), x1, Q)
            // x³ = x²·x
            let c0 := addmod(mulmod(a0, x0, Q), sub(Q, mulmod(a1, x1, Q)), Q)
            let c1 := addmod(mulmod(a0, x1, Q), mulmod(a1, x0, Q), Q)
            // y² = (y0² − y1²) + 2·y0·y1·u
            let s0 := addmod(mulmod(y0, y0, Q), sub(Q, mulmod(y1, y1, Q)), Q)
            let s1 := mulmod(addmod(y0, y0, Q), y1, Q)
            on := and(eq(s0, addmod(c0, TWIST_B0, Q)), eq(s1, addmod(c1, TWIST_B1, Q)))
        }
    }

    /// @dev (x, y) must be below q and on y² = x³ + 3, or be (0, 0), the point at infinity.
    function _checkG1(uint256[2] memory point) private pure {
        (uint256 x, uint256 y) = (point[0], point[1]);
        if (x >= Q || y >= Q) revert VerifyingKeyNotInField();
        if (x == 0 && y == 0) return;
        if (!_onG1(x, y)) revert VerifyingKeyG1PointInvalid();
    }

    /// @dev One pairing call over (G1 generator, β), (…, γ), (…, δ): the precompile fails
    ///      unless all three are on the twist and in G2. Its answer itself is irrelevant.
    function _checkG2(uint256[4] memory beta, uint256[4] memory gamma, uint256[4] memory delta) private view {
        uint256[18] memory p;
        for (uint256 i; i < 4; ++i) {
            if (beta[i] >= Q || gamma[i] >= Q || delta[i] >= Q) revert VerifyingKeyNotInField();
            p[2 + i] = beta[i];
            p[8 + i] = gamma[i];
            p[14 + i] = delta[i];
        }
        (p[0], p[1], p[6], p[7], p[12], p[13]) = (1, 2, 1, 2, 1, 2);
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x08, p, 0x240, 0, 0x20)
        }
        if (!ok) revert VerifyingKeyG2PointInvalid();
    }
}
