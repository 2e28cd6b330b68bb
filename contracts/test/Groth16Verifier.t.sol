// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {Groth16Verifier} from "../src/Groth16Verifier.sol";
import {Trapdoor} from "./helpers/Trapdoor.sol";

contract Groth16VerifierTest is Test {
    uint256 internal constant R = Trapdoor.R;
    uint256 internal constant Q = Trapdoor.Q;
    uint256 internal constant IC0 = 11;

    Groth16Verifier internal verifier;

    function setUp() public {
        verifier = _deploy(IC0);
    }

    function _deploy(uint256 ic0) internal returns (Groth16Verifier) {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(ic0);
        return new Groth16Verifier(a, b, g, d, ic);
    }

    /// @dev A fresh copy (memory arrays assign by reference).
    function _copy(uint256[8] memory proof) internal pure returns (uint256[8] memory out) {
        for (uint256 i; i < 8; ++i) {
            out[i] = proof[i];
        }
    }

    function _inputs(uint256 seed) internal pure returns (uint256[6] memory x) {
        for (uint256 i; i < 6; ++i) {
            x[i] = uint256(keccak256(abi.encode(seed, i))) % R;
        }
    }

    // ------------------------------------------------------------ valid proofs

    function test_acceptsAValidProof() public view {
        uint256[6] memory x = _inputs(1);
        assertTrue(verifier.verifyProof(Trapdoor.prove(IC0, x, 42), x));
    }

    function test_acceptsZeroInputs() public view {
        uint256[6] memory x;
        assertTrue(verifier.verifyProof(Trapdoor.prove(IC0, x, 3), x));
        x[4] = 9;
        assertTrue(verifier.verifyProof(Trapdoor.prove(IC0, x, 3), x));
    }

    function test_acceptsTheNegatedProof() public view {
        uint256[6] memory x = _inputs(2);
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 5);
        uint256[8] memory other = Trapdoor.negate(proof);
        assertTrue(keccak256(abi.encode(proof)) != keccak256(abi.encode(other)));
        assertTrue(verifier.verifyProof(other, x));
    }

    function testFuzz_acceptsValidProofs(uint256 seed, uint256 c) public view {
        uint256[6] memory x = _inputs(seed);
        assertTrue(verifier.verifyProof(Trapdoor.prove(IC0, x, c), x));
    }

    // ------------------------------------------------------------ invalid proofs

    function testFuzz_rejectsAProofForOtherInputs(uint256 seed, uint8 index, uint256 delta) public view {
        uint256[6] memory x = _inputs(seed);
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 7);
        delta = bound(delta, 1, R - 1);
        x[index % 6] = addmod(x[index % 6], delta, R);
        assertFalse(verifier.verifyProof(proof, x));
    }

    function testFuzz_rejectsAProofForAnotherKey(uint256 seed, uint256 ic0) public {
        ic0 = bound(ic0, 1, 1 << 128);
        vm.assume(ic0 != IC0);
        Groth16Verifier other = _deploy(ic0);
        uint256[6] memory x = _inputs(seed);
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 9);
        assertTrue(verifier.verifyProof(proof, x));
        assertFalse(other.verifyProof(proof, x));
    }

    function test_rejectsASwappedG2Order() public {
        uint256[6] memory x = _inputs(3);
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 11);
        (proof[2], proof[3], proof[4], proof[5]) = (proof[3], proof[2], proof[5], proof[4]);
        // (c0, c1) read as (c1, c0) is not a point of the twist.
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointNotOnCurve.selector, 2));
        verifier.verifyProof(proof, x);
    }

    function test_rejectsPointsOffTheirCurves() public {
        uint256[6] memory x = _inputs(4);
        uint256[8] memory valid = Trapdoor.prove(IC0, x, 13);
        // One coordinate of A, B or C moved by one: y² = x³ + 3 (A, C) or the twist (B)
        // no longer holds, and the verifier says which point before any precompile runs.
        uint256[8] memory points = [uint256(0), 0, 2, 2, 2, 2, 6, 6];
        for (uint256 k; k < 8; ++k) {
            uint256[8] memory proof = _copy(valid);
            proof[k] = addmod(proof[k], 1, Q);
            vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointNotOnCurve.selector, points[k]));
            verifier.verifyProof(proof, x);
        }
    }

    function test_rejectsPointsAtInfinity() public {
        uint256[6] memory x = _inputs(5);
        uint256[8] memory valid = Trapdoor.prove(IC0, x, 19);
        uint256[8] memory proof = _copy(valid);
        (proof[0], proof[1]) = (0, 0);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointAtInfinity.selector, 0));
        verifier.verifyProof(proof, x);
        proof = _copy(valid);
        (proof[2], proof[3], proof[4], proof[5]) = (0, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointAtInfinity.selector, 2));
        verifier.verifyProof(proof, x);
        proof = _copy(valid);
        (proof[6], proof[7]) = (0, 0);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointAtInfinity.selector, 6));
        verifier.verifyProof(proof, x);
        // Half a point at infinity is just off the curve.
        proof = _copy(valid);
        proof[6] = 0;
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointNotOnCurve.selector, 6));
        verifier.verifyProof(proof, x);
    }

    /// @dev A point of the twist outside G2 (x = 2 + u; its r-multiple is not infinity,
    ///      checked with a Python model of the twist): only the pairing precompile can
    ///      refuse it, and it burns all the gas it is given when it does. The verifier gives
    ///      it only what a pairing costs (183 000 for four pairs), so the refusal costs about
    ///      236 000 gas in all, not the caller's whole allowance.
    function test_aTwistPointOutsideG2CostsBoundedGas() public {
        uint256[4] memory outside = [
            uint256(1),
            2,
            19659275751359636165940301690575149581329631496732780143538578556285923319774,
            7292567877523311580221095596750716176434782432868683424513645834767876293070
        ];
        uint256[6] memory x = _inputs(6);
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 23);
        (proof[2], proof[3], proof[4], proof[5]) = (outside[0], outside[1], outside[2], outside[3]);
        uint256 before = gasleft();
        try verifier.verifyProof{gas: 10_000_000}(proof, x) returns (bool) {
            revert("accepted a B outside G2");
        } catch (bytes memory reason) {
            assertEq(reason, abi.encodeWithSelector(Groth16Verifier.PrecompileFailed.selector, 8));
        }
        uint256 used = before - gasleft();
        emit log_named_uint("gas to refuse B outside G2", used);
        assertLt(used, 250_000);

        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(9, 4);
        (proofs[2][2], proofs[2][3], proofs[2][4], proofs[2][5]) = (outside[0], outside[1], outside[2], outside[3]);
        before = gasleft();
        try verifier.verifyBatch{gas: 10_000_000}(proofs, inputs) returns (bool) {
            revert("accepted a B outside G2");
        } catch (bytes memory reason) {
            assertEq(reason, abi.encodeWithSelector(Groth16Verifier.PrecompileFailed.selector, 8));
        }
        used = before - gasleft();
        emit log_named_uint("gas to refuse a batch of 4 with a B outside G2", used);
        // 45 000 + 7 · 34 000 for the pairing, plus the batch's 16 ecMuls and checks.
        assertLt(used, 500_000);
    }

    function testFuzz_rejectsInputsNotInTheField(uint256 seed, uint8 index, uint256 value) public {
        uint256[6] memory x = _inputs(seed);
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 15);
        uint256 i = index % 6;
        // x + r is the same scalar to ecMul, so without the check it would verify.
        x[i] = value % 2 == 0 ? x[i] + R : bound(value, R, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.InputNotInField.selector, i));
        verifier.verifyProof(proof, x);
    }

    function testFuzz_rejectsCoordinatesNotInTheField(uint256 seed, uint8 index, uint256 value) public {
        uint256[6] memory x = _inputs(seed);
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 17);
        uint256 i = index % 8;
        proof[i] = value % 2 == 0 ? proof[i] + Q : bound(value, Q, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.CoordinateNotInField.selector, i));
        verifier.verifyProof(proof, x);
    }

    function test_rejectsAnInputOfExactlyR() public {
        uint256[6] memory x;
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 1);
        x[5] = R;
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.InputNotInField.selector, 5));
        verifier.verifyProof(proof, x);
    }

    function test_rejectsACoordinateOfExactlyQ() public {
        uint256[6] memory x;
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 1);
        proof[0] = Q;
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.CoordinateNotInField.selector, 0));
        verifier.verifyProof(proof, x);
    }

    // ------------------------------------------------------------ batches

    function _batch(uint256 seed, uint256 n)
        internal
        view
        returns (uint256[8][] memory proofs, uint256[6][] memory inputs)
    {
        proofs = new uint256[8][](n);
        inputs = new uint256[6][](n);
        for (uint256 i; i < n; ++i) {
            inputs[i] = _inputs(seed + i);
            proofs[i] = Trapdoor.prove(IC0, inputs[i], seed ^ i);
        }
    }

    function test_batchAcceptsValidProofs() public view {
        for (uint256 n = 1; n <= 4; ++n) {
            (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(n, n);
            assertTrue(verifier.verifyBatch(proofs, inputs));
        }
    }

    function test_batchAcceptsTheSameStatementTwice() public view {
        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(7, 2);
        inputs[1] = inputs[0];
        proofs[1] = Trapdoor.negate(proofs[0]);
        assertTrue(verifier.verifyBatch(proofs, inputs));
    }

    function testFuzz_batchAcceptsValidProofs(uint256 seed, uint8 n) public view {
        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(seed % (1 << 128), bound(n, 1, 8));
        assertTrue(verifier.verifyBatch(proofs, inputs));
    }

    function testFuzz_batchRejectsOneBadProof(uint256 seed, uint8 n, uint8 bad, uint256 delta) public view {
        n = uint8(bound(n, 1, 8));
        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(seed % (1 << 128), n);
        uint256 i = bad % n;
        inputs[i][delta % 6] = addmod(inputs[i][delta % 6], bound(delta, 1, R - 1), R);
        assertFalse(verifier.verifyBatch(proofs, inputs));
    }

    function testFuzz_batchRejectsTwoProofsThatCancel(uint256 seed) public view {
        // A proof checked against x + d and the same proof against x − d would add up to
        // two valid checks if both had weight 1; the random weights keep them apart.
        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(seed % (1 << 128), 2);
        proofs[1] = proofs[0];
        for (uint256 k; k < 6; ++k) {
            inputs[1][k] = inputs[0][k];
        }
        assertTrue(verifier.verifyBatch(proofs, inputs));
        uint256 d = uint256(keccak256(abi.encode(seed))) % (R - 1) + 1;
        inputs[0][0] = addmod(inputs[0][0], d, R);
        inputs[1][0] = addmod(inputs[1][0], R - d, R);
        assertFalse(verifier.verifyBatch(proofs, inputs));
    }

    function test_batchRefusesBadLengths() public {
        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(1, 2);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.BatchLength.selector, 0, 0));
        verifier.verifyBatch(new uint256[8][](0), new uint256[6][](0));
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.BatchLength.selector, 2, 1));
        verifier.verifyBatch(proofs, new uint256[6][](1));
        assertTrue(verifier.verifyBatch(proofs, inputs));
    }

    function testFuzz_batchRefusesValuesNotInTheField(uint256 seed, uint8 at, bool coordinate) public {
        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(seed % (1 << 128), 3);
        uint256 i = at % 3;
        if (coordinate) {
            uint256 k = (at >> 2) % 8;
            proofs[i][k] += Q;
            vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.CoordinateNotInField.selector, 8 * i + k));
        } else {
            uint256 k = (at >> 2) % 6;
            inputs[i][k] += R;
            vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.InputNotInField.selector, 6 * i + k));
        }
        verifier.verifyBatch(proofs, inputs);
    }

    function test_batchRefusesPointsOffTheCurve() public {
        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(5, 2);
        proofs[1][6] = addmod(proofs[1][6], 1, Q);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointNotOnCurve.selector, 8 + 6));
        verifier.verifyBatch(proofs, inputs);
        (proofs, inputs) = _batch(5, 2);
        (proofs[1][2], proofs[1][3]) = (proofs[1][3], proofs[1][2]);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointNotOnCurve.selector, 8 + 2));
        verifier.verifyBatch(proofs, inputs);
        (proofs, inputs) = _batch(5, 3);
        proofs[2][1] = addmod(proofs[2][1], 1, Q);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointNotOnCurve.selector, 16));
        verifier.verifyBatch(proofs, inputs);
    }

    function test_batchRefusesPointsAtInfinity() public {
        (uint256[8][] memory proofs, uint256[6][] memory inputs) = _batch(5, 3);
        (proofs[1][0], proofs[1][1]) = (0, 0);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointAtInfinity.selector, 8));
        verifier.verifyBatch(proofs, inputs);
        (proofs, inputs) = _batch(5, 3);
        (proofs[2][6], proofs[2][7]) = (0, 0);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointAtInfinity.selector, 16 + 6));
        verifier.verifyBatch(proofs, inputs);
        (proofs, inputs) = _batch(5, 3);
        (proofs[0][2], proofs[0][3], proofs[0][4], proofs[0][5]) = (0, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.ProofPointAtInfinity.selector, 2));
        verifier.verifyBatch(proofs, inputs);
    }

    // ------------------------------------------------------------ the key

    function test_verifyingKeyRoundTrips() public view {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0);
        (
            uint256[2] memory a2,
            uint256[4] memory b2,
            uint256[4] memory g2,
            uint256[4] memory d2,
            uint256[2][7] memory ic2
        ) = verifier.verifyingKey();
        assertEq(keccak256(abi.encode(a, b, g, d)), keccak256(abi.encode(a2, b2, g2, d2)));
        for (uint256 i; i < 7; ++i) {
            assertEq(ic[i][0], ic2[i][0]);
            assertEq(ic[i][1], ic2[i][1]);
        }
        assertEq(verifier.PUBLIC_INPUTS(), 6);
        assertEq(verifier.MAX_PUBLIC_INPUTS(), 6);
    }

    function test_constructorRefusesAWrongNumberOfIcPoints() public {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d,) = Trapdoor.vk(IC0);
        uint256[3] memory lengths = [uint256(0), 1, 8];
        for (uint256 i; i < lengths.length; ++i) {
            uint256[2][] memory ic = new uint256[2][](lengths[i]);
            vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.VerifyingKeyLength.selector, lengths[i]));
            new Groth16Verifier(a, b, g, d, ic);
        }
    }

    // ------------------------------------------------------------ fewer than six inputs

    function _deployWith(uint256 inputs) internal returns (Groth16Verifier) {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0, inputs);
        return new Groth16Verifier(a, b, g, d, ic);
    }

    /// @dev `_inputs(seed)` with the words from `used` on zeroed.
    function _padded(uint256 seed, uint256 used) internal pure returns (uint256[6] memory x) {
        x = _inputs(seed);
        for (uint256 i = used; i < 6; ++i) {
            x[i] = 0;
        }
    }

    function test_everyInputCountFromOneToSix() public {
        for (uint256 k = 1; k <= 6; ++k) {
            Groth16Verifier v = _deployWith(k);
            assertEq(v.PUBLIC_INPUTS(), k);
            uint256[6] memory x = _padded(k, k);
            uint256[8] memory proof = Trapdoor.prove(IC0, x, 21 + k);
            assertTrue(v.verifyProof(proof, x), "valid proof, zero padding");
            // Every used input is bound.
            for (uint256 i; i < k; ++i) {
                uint256[6] memory y = x;
                y[i] = addmod(y[i], 1, R);
                assertFalse(v.verifyProof(proof, y));
            }
            // The key reads back with (0, 0) beyond the circuit's points.
            (,,,, uint256[2][7] memory ic) = v.verifyingKey();
            for (uint256 i; i < 7; ++i) {
                uint256[2] memory expected = i <= k ? Trapdoor.g1(IC0 + i) : [uint256(0), 0];
                assertEq(ic[i][0], expected[0]);
                assertEq(ic[i][1], expected[1]);
            }
        }
    }

    function testFuzz_unusedInputsMustBeZero(uint8 used, uint8 index, uint256 value) public {
        uint256 k = bound(used, 1, 5);
        uint256 i = bound(index, k, 5);
        value = bound(value, 1, type(uint256).max);
        Groth16Verifier v = _deployWith(k);
        uint256[6] memory x = _padded(k, k);
        uint256[8] memory proof = Trapdoor.prove(IC0, x, 3);
        x[i] = value;
        // With a zero IC point any value would verify, so the verifier refuses it outright.
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.UnusedInputNotZero.selector, i));
        v.verifyProof(proof, x);
    }

    function test_batchWithFewerInputs() public {
        Groth16Verifier v = _deployWith(4);
        uint256[8][] memory proofs = new uint256[8][](3);
        uint256[6][] memory inputs = new uint256[6][](3);
        for (uint256 i; i < 3; ++i) {
            inputs[i] = _padded(40 + i, 4);
            proofs[i] = Trapdoor.prove(IC0, inputs[i], 50 + i);
        }
        assertTrue(v.verifyBatch(proofs, inputs));
        inputs[2][3] = addmod(inputs[2][3], 1, R);
        assertFalse(v.verifyBatch(proofs, inputs));
        inputs[2][3] = addmod(inputs[2][3], R - 1, R);
        inputs[1][5] = 1;
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.UnusedInputNotZero.selector, 6 + 5));
        v.verifyBatch(proofs, inputs);
    }

    function test_constructorRefusesCoordinatesNotInTheField() public {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0);
        ic[3][1] += Q;
        vm.expectRevert(Groth16Verifier.VerifyingKeyNotInField.selector);
        new Groth16Verifier(a, b, g, d, ic);
        ic[3][1] -= Q;
        d[2] += Q;
        vm.expectRevert(Groth16Verifier.VerifyingKeyNotInField.selector);
        new Groth16Verifier(a, b, g, d, ic);
    }

    function test_constructorRefusesG1PointsOffTheCurve() public {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0);
        a[1] = addmod(a[1], 1, Q);
        vm.expectRevert(Groth16Verifier.VerifyingKeyG1PointInvalid.selector);
        new Groth16Verifier(a, b, g, d, ic);
    }

    function test_constructorAcceptsIcAtInfinity() public {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0);
        ic[6] = [uint256(0), 0];
        new Groth16Verifier(a, b, g, d, ic);
    }

    function test_constructorRefusesG2PointsOffTheTwist() public {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0);
        g[3] = addmod(g[3], 1, Q);
        vm.expectRevert(Groth16Verifier.VerifyingKeyG2PointInvalid.selector);
        new Groth16Verifier(a, b, g, d, ic);
    }
}
