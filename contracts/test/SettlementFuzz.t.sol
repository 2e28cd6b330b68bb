// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Groth16Verifier} from "../src/Groth16Verifier.sol";
import {Settlement} from "../src/Settlement.sol";
import {SettlementFixture} from "./helpers/SettlementFixture.sol";
import {Trapdoor} from "./helpers/Trapdoor.sol";

/// @notice Fuzzed settlements against the real Groth16Verifier (trapdoor key).
contract SettlementFuzzTest is SettlementFixture {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    struct Case {
        uint64[5] totals;
        uint48[5] capacity;
        uint128[5] escrow;
        uint32 count;
        uint64 startSeq;
        uint64 startEndMs;
        uint64 duration;
        uint256 head;
        uint128 amount;
        uint128 per;
        uint16 feeBps;
    }

    /// @dev Any statement a proof could be made for settles, and pays exactly
    ///      min(floor(total · amount / per), escrow) per class, less the fee. Epochs end
    ///      anywhere in the century after the opening (the clock moves there first).
    function testFuzz_settlesAnyStatement(Case memory k) public {
        k.per = uint128(bound(k.per, 1, type(uint128).max));
        k.feeBps = uint16(bound(k.feeBps, 0, 1000));
        vm.startPrank(admin);
        settlement.setTariff(1, k.amount, k.per);
        settlement.setProtocolFee(k.feeBps);
        vm.stopPrank();
        _register(provider, METER_KEY, k.capacity);
        vm.prank(admin);
        token.mintBatch(consumer, _ids(), _amounts(k.escrow), "");

        uint256 century = 100 * 365 days * 1000;
        vm.prank(consumer);
        uint64 jobId = settlement.openJob(meter, k.capacity, uint64(block.timestamp + 200 * 365 days), k.escrow);
        // Move the stream on (as if earlier epochs had settled) with one mock epoch; very
        // large seqs and ends are covered by test_publicInputsMatchTheDocumentedPacking.
        k.startSeq = uint64(bound(k.startSeq, 0, type(uint32).max));
        if (k.startSeq > 0) {
            Settlement.MeterStatement memory first = _statement(jobId, 0, [uint64(0), 0, 0, 0, 0]);
            first.next.seq = k.startSeq;
            first.next.endMs = uint64(bound(k.startEndMs, first.prev.endMs, first.prev.endMs + century));
            _reach(first.next.endMs);
            settlement.settle(MOCK, first, [uint256(0), 0, 0, 0, 0, 0, 0, 0], _sign(METER_KEY, first));
        }

        // Totals within their lanes: gpu and cpu 44 bits, storage 64, network 52, energy 48.
        k.totals[0] = uint64(bound(k.totals[0], 0, 2 ** 44 - 1));
        k.totals[1] = uint64(bound(k.totals[1], 0, 2 ** 44 - 1));
        k.totals[3] = uint64(bound(k.totals[3], 0, 2 ** 52 - 1));
        k.totals[4] = uint64(bound(k.totals[4], 0, 2 ** 48 - 1));
        Settlement.MeterStatement memory s = _statement(jobId, 0, k.totals);
        s.next.head = k.head % R;
        s.next.seq = s.prev.seq + uint64(bound(k.count, 1, type(uint32).max));
        s.next.endMs = uint64(bound(k.duration, 0, century)) + s.prev.endMs;
        _reach(s.next.endMs);
        uint128[5] memory before = _escrowOf(jobId);
        _settle(s);

        Settlement.StreamState memory st = _state(jobId);
        assertEq(st.head, s.next.head);
        assertEq(st.seq, s.next.seq);
        assertEq(st.endMs, s.next.endMs);
        for (uint256 c; c < 5; ++c) {
            (uint128 amount, uint128 per) = settlement.tariff(c);
            uint256 bill = uint256(k.totals[c]) * amount / per;
            uint256 paid = bill < before[c] ? bill : before[c];
            assertEq(_escrowOf(jobId)[c], before[c] - paid);
            assertEq(token.balanceOf(provider, c), paid - paid * k.feeBps / 10_000);
        }
    }

    /// @dev A total at or above 2^{W_c} is refused, whatever the other totals.
    function testFuzz_refusesTotalsWiderThanTheirLanes(uint64[5] memory totals, uint8 class, uint64 total) public {
        uint256[5] memory widths = [uint256(44), 44, 64, 52, 48];
        uint256 c = class % 5;
        vm.assume(c != 2); // storage's lane is as wide as a uint64
        for (uint256 i; i < 5; ++i) {
            if (widths[i] < 64) totals[i] = uint64(bound(totals[i], 0, 2 ** widths[i] - 1));
        }
        totals[c] = uint64(bound(total, 2 ** widths[c], type(uint64).max));
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 1, totals);
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(abi.encodeWithSelector(Settlement.TotalTooLarge.selector, c, totals[c]));
        settlement.settle(MOCK, s, [uint256(0), 0, 0, 0, 0, 0, 0, 0], sig);
    }

    /// @dev Nothing ends after the block's time plus the skew, nor after the expiry.
    function testFuzz_refusesEpochsEndingTooLate(uint64 endMs, uint32 wait) public {
        uint64 jobId = _open(_each(100));
        vm.warp(block.timestamp + bound(wait, 0, LIFETIME));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256 latest = block.timestamp * 1000 + settlement.clockSkewMs();
        uint256 expiry = (START + LIFETIME) * 1000;
        s.next.endMs = uint64(bound(endMs, (latest < expiry ? latest : expiry) + 1, type(uint64).max));
        bytes memory sig = _sign(METER_KEY, s);
        uint256[8] memory proof = _prove(s, 1);
        if (s.next.endMs > latest) {
            vm.expectRevert(abi.encodeWithSelector(Settlement.EpochEndsAfterNow.selector, s.next.endMs, latest));
        } else {
            vm.expectRevert(abi.encodeWithSelector(Settlement.EpochEndsAfterExpiry.selector, s.next.endMs, expiry));
        }
        settlement.settle(REAL, s, proof, sig);
    }

    function testFuzz_refusesOtherSigners(uint256 key) public {
        key = bound(key, 1, SECP256K1_N - 1);
        vm.assume(key != METER_KEY);
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(key, s);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongMeterSignature.selector, vm.addr(key), meter));
        settlement.settle(REAL, s, proof, sig);
    }

    function testFuzz_refusesGarbageSignatures(bytes32 r, bytes32 sv, uint8 v) public {
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256[8] memory proof = _prove(s, 1);
        vm.expectRevert();
        settlement.settle(REAL, s, proof, abi.encodePacked(r, sv, v));
    }

    function testFuzz_refusesSignaturesOverOtherStates(uint256 head, uint64 seq, uint64 endMs) public {
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        Settlement.MeterStatement memory signed = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        signed.next = Settlement.StreamState(head, seq, endMs);
        vm.assume(keccak256(abi.encode(signed.next)) != keccak256(abi.encode(s.next)));
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(METER_KEY, signed);
        vm.expectRevert();
        settlement.settle(REAL, s, proof, sig);
    }

    function testFuzz_refusesReplaysOfSettledStatements(uint256 c) public {
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 2, [uint64(1), 2, 3, 4, 5]);
        bytes memory sig = _sign(METER_KEY, s);
        _settle(s);
        // Any other valid proof of the same statement: c picks one, negation gives another.
        uint256[8] memory proof = _prove(s, c);
        if (c % 2 == 1) proof = Trapdoor.negate(proof);
        assertTrue(verifier.verifyProof(proof, _inputs(s)));
        vm.expectRevert(abi.encodeWithSelector(Settlement.StaleState.selector, s.next.head, s.next.seq, s.next.endMs));
        settlement.settle(REAL, s, proof, sig);
    }

    function testFuzz_refusesTamperedTotals(uint8 class, uint64 delta) public {
        delta = uint64(bound(delta, 1, 2 ** 40)); // every class's total stays within its lane
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 2, [uint64(10), 20, 30, 40, 50]);
        uint256[8] memory proof = _prove(s, 1);
        unchecked {
            s.totals[class % 5] += delta;
        }
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settle(REAL, s, proof, sig);
    }

    function testFuzz_refusesHeadsNotInTheField(uint256 head) public {
        head = bound(head, R, type(uint256).max);
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256[8] memory proof = _prove(s, 1);
        s.next.head = head;
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.InputNotInField.selector, 1));
        settlement.settle(REAL, s, proof, sig);
    }

    function testFuzz_refusesCoordinatesNotInTheField(uint8 index, uint256 value) public {
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256[8] memory proof = _prove(s, 1);
        uint256 i = index % 8;
        proof[i] = value % 2 == 0 ? proof[i] + Trapdoor.Q : bound(value, Trapdoor.Q, type(uint256).max);
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.CoordinateNotInField.selector, i));
        settlement.settle(REAL, s, proof, sig);
    }

    function testFuzz_refusesProofsForAnotherCircuit(uint256 ic0) public {
        ic0 = bound(ic0, 1, 1 << 128);
        vm.assume(ic0 != IC0);
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(ic0, 5);
        Groth16Verifier other = new Groth16Verifier(a, b, g, d, ic);
        vm.prank(admin);
        settlement.setCircuit(keccak256("other"), other);
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settle(keccak256("other"), s, proof, sig);
    }

    function testFuzz_settleBatchRefusesATamperedEpoch(uint8 n, uint8 bad, uint64 delta) public {
        n = uint8(bound(n, 1, 6));
        delta = uint64(bound(delta, 1, 2 ** 40)); // every class's total stays within its lane
        Settlement.MeterStatement[] memory ss = new Settlement.MeterStatement[](n);
        uint256[8][] memory proofs = new uint256[8][](n);
        bytes[] memory sigs = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            ss[i] = _statement(_open(_each(100)), 1, [uint64(7), 1, 2, 3, 4]);
            proofs[i] = _prove(ss[i], i + 1);
        }
        unchecked {
            ss[bad % n].totals[delta % 5] += delta;
        }
        for (uint256 i; i < n; ++i) {
            sigs[i] = _sign(METER_KEY, ss[i]);
        }
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settleBatch(REAL, ss, proofs, sigs);
    }

    function _ids() internal pure returns (uint256[] memory ids) {
        ids = new uint256[](5);
        for (uint256 c; c < 5; ++c) {
            ids[c] = c;
        }
    }

    function _amounts(uint128[5] memory a) internal pure returns (uint256[] memory out) {
        out = new uint256[](5);
        for (uint256 c; c < 5; ++c) {
            out[c] = a[c];
        }
    }
}
