// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice A Groth16 verifying key whose trapdoor the tests know, so they can make valid
///         proofs for any public inputs without a circuit or a prover:
///         α = 2·G1, β = 3·G2, γ = 5·G2, δ = 7·G2, IC[i] = (ic0 + i)·G1. For inputs x and
///         any c, C = c·G1, B = G2 and A = (6 + 5·v + 7·c)·G1 with v = ic0 + Σ x_i (ic0 + i + 1)
///         satisfy e(A, B) = e(α, β)·e(vk_x, γ)·e(C, δ). Different c give different valid
///         proofs of the same statement (what a re-randomised proof is to a verifier).
///         The G2 constants are k·G2 for k = 1, 3, 5, 7, computed with ffjavascript; the
///         verifier's constructor checks they are G2 points and every accepted proof
///         checks they are the right multiples.
library Trapdoor {
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    function g2(uint256 k) internal pure returns (uint256[4] memory p) {
        if (k == 1) {
            return [
                11559732032986387107991004021392285783925812861821192530917403151452391805634,
                10857046999023057135944570762232829481370756359578518086990519993285655852781,
                4082367875863433681332203403145435568316851327593401208105741076214120093531,
                8495653923123431417604973247489272438418190587263600148770280649306958101930
            ];
        }
        if (k == 3) {
            return [
                7273165102799931111715871471550377909735733521218303035754523677688038059653,
                2725019753478801796453339367788033689375851816420509565303521482350756874229,
                957874124722006818841961785324909313781880061366718538693995380805373202866,
                2512659008974376214222774206987427162027254181373325676825515531566330959255
            ];
        }
        if (k == 5) {
            return [
                4540444681147253467785307942530223364530218361853237193970751657229138047649,
                20954117799226682825035885491234530437475518021362091509513177301640194298072,
                11631839690097995216017572651900167465857396346217730511548857041925508482915,
                21508930868448350162258892668132814424284302804699005394342512102884055673846
            ];
        }
        require(k == 7, "no such G2 constant");
        return [
            18551411094430470096460536606940536822990217226529861227533666875800903099477,
            15512671280233143720612069991584289591749188907863576513414377951116606878472,
            1711576522631428957817575436337311654689480489843856945284031697403898093784,
            13376798835316611669264291046140500151806347092962367781523498857425536295743
        ];
    }

    /// @notice The verifying key of a six-input circuit with IC[i] = (ic0 + i)·G1.
    function vk(uint256 ic0)
        internal
        view
        returns (
            uint256[2] memory alpha,
            uint256[4] memory beta,
            uint256[4] memory gamma,
            uint256[4] memory delta,
            uint256[2][] memory ic
        )
    {
        return vk(ic0, 6);
    }

    /// @notice The verifying key of an `inputs`-input circuit with IC[i] = (ic0 + i)·G1.
    function vk(uint256 ic0, uint256 inputs)
        internal
        view
        returns (
            uint256[2] memory alpha,
            uint256[4] memory beta,
            uint256[4] memory gamma,
            uint256[4] memory delta,
            uint256[2][] memory ic
        )
    {
        alpha = g1(2);
        beta = g2(3);
        gamma = g2(5);
        delta = g2(7);
        ic = new uint256[2][](inputs + 1);
        for (uint256 i; i <= inputs; ++i) {
            ic[i] = g1(ic0 + i);
        }
    }

    /// @notice A valid proof of `input` for vk(ic0, k) and any k, as long as the inputs
    ///         from k on are zero (their terms vanish); `c` picks one of the many. c ≡ 0
    ///         would put C at infinity, which verifiers refuse: it is taken as c = 1.
    function prove(uint256 ic0, uint256[6] memory input, uint256 c) internal view returns (uint256[8] memory proof) {
        if (c % R == 0) c = 1;
        uint256 v = ic0 % R;
        for (uint256 i; i < 6; ++i) {
            v = addmod(v, mulmod(input[i] % R, (ic0 + i + 1) % R, R), R);
        }
        uint256 a = addmod(addmod(6, mulmod(5, v, R), R), mulmod(7, c % R, R), R);
        uint256[2] memory pa = g1(a);
        uint256[2] memory pc = g1(c % R);
        uint256[4] memory pb = g2(1);
        proof = [pa[0], pa[1], pb[0], pb[1], pb[2], pb[3], pc[0], pc[1]];
    }

    /// @notice The same proof with A and B negated: e(−A, −B) = e(A, B), so it is valid too.
    function negate(uint256[8] memory proof) internal pure returns (uint256[8] memory out) {
        for (uint256 i; i < 8; ++i) {
            out[i] = proof[i];
        }
        out[1] = (Q - proof[1]) % Q;
        out[4] = (Q - proof[4]) % Q;
        out[5] = (Q - proof[5]) % Q;
    }

    /// @notice k·G1.
    function g1(uint256 k) internal view returns (uint256[2] memory p) {
        uint256[3] memory input = [uint256(1), 2, k];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, p, 0x40)
        }
        require(ok, "ecMul failed");
    }
}
