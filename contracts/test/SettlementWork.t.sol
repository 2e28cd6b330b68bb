// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {Groth16Verifier} from "../src/Groth16Verifier.sol";
import {IGroth16Verifier} from "../src/IGroth16Verifier.sol";
import {Settlement} from "../src/Settlement.sol";
import {SettlementFixture} from "./helpers/SettlementFixture.sol";
import {Trapdoor} from "./helpers/Trapdoor.sol";

/// @notice Work settlement: the workload circuit registry, the work tariff, requests by the
///         consumer, and `settleWork` with real pairing checks (a 4-input trapdoor key).
contract SettlementWorkTest is SettlementFixture {
    uint64 internal constant UNITS = 1_000;

    // ================================================================ governance

    function test_defaults() public view {
        (uint256 class, uint128 amount, uint128 per) = settlement.workTariff();
        assertEq(class, 0, "work is paid in GPU tokens");
        assertEq(amount, 1);
        assertEq(per, 1);
        assertEq(address(settlement.workVerifiers(WORK)), address(workVerifier));
        assertEq(workVerifier.PUBLIC_INPUTS(), 4);
    }

    function test_governanceSetsWorkCircuits() public {
        bytes32 id = keccak256("other workload");
        vm.expectEmit(address(settlement));
        emit Settlement.WorkCircuitSet(id, address(workVerifier));
        vm.prank(admin);
        settlement.setWorkCircuit(id, workVerifier);
        assertEq(address(settlement.workVerifiers(id)), address(workVerifier));
        assertEq(address(settlement.verifiers(id)), address(0), "not a meter circuit");
        vm.expectEmit(address(settlement));
        emit Settlement.WorkCircuitSet(id, address(0));
        vm.prank(admin);
        settlement.setWorkCircuit(id, IGroth16Verifier(address(0)));
        assertEq(address(settlement.workVerifiers(id)), address(0));
    }

    function test_setWorkCircuitNeedsFourInputs() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongPublicInputCount.selector, 4, 5));
        settlement.setWorkCircuit(keccak256("x"), mock);
        mock.setInputCount(4);
        settlement.setWorkCircuit(keccak256("x"), mock);
        vm.stopPrank();
        assertEq(address(settlement.workVerifiers(keccak256("x"))), address(mock));
    }

    function test_setWorkCircuitRefusesAccountsWithoutCode() public {
        vm.expectRevert(abi.encodeWithSelector(Settlement.NotAContract.selector, stranger));
        vm.prank(admin);
        settlement.setWorkCircuit(keccak256("x"), IGroth16Verifier(stranger));
    }

    function test_governanceSetsTheWorkTariff() public {
        vm.expectEmit(address(settlement));
        emit Settlement.WorkTariffSet(2, 7, 3);
        vm.prank(admin);
        settlement.setWorkTariff(2, 7, 3);
        (uint256 class, uint128 amount, uint128 per) = settlement.workTariff();
        assertEq(class, 2);
        assertEq(amount, 7);
        assertEq(per, 3);
        (uint128 meterAmount, uint128 meterPer) = settlement.tariff(2);
        assertEq(meterAmount, 1, "the class's meter tariff is untouched");
        assertEq(meterPer, 1);
    }

    function test_setWorkTariffRefusesBadInput() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownClass.selector, 5));
        settlement.setWorkTariff(5, 1, 1);
        vm.expectRevert(Settlement.ZeroTariffDenominator.selector);
        settlement.setWorkTariff(0, 1, 0);
        vm.stopPrank();
    }

    function test_onlyGovernanceSetsWorkCircuitsAndTariff() public {
        bytes memory denied = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, settlement.GOVERNANCE_ROLE()
        );
        vm.startPrank(stranger);
        vm.expectRevert(denied);
        settlement.setWorkCircuit(keccak256("x"), workVerifier);
        vm.expectRevert(denied);
        settlement.setWorkTariff(0, 5, 1);
        vm.stopPrank();
    }

    // ================================================================ requests

    function test_theConsumerRequestsWork() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        vm.expectEmit(address(settlement));
        emit Settlement.WorkRequested(jobId, WORK, s.model, s.input);
        _requestWork(s);
        assertEq(
            uint256(settlement.workStatus(jobId, WORK, s.model, s.input)), uint256(Settlement.WorkStatus.Requested)
        );
        // The request is for exactly this job, circuit, model and input.
        uint256 none = uint256(Settlement.WorkStatus.None);
        assertEq(uint256(settlement.workStatus(jobId + 1, WORK, s.model, s.input)), none);
        assertEq(uint256(settlement.workStatus(jobId, REAL, s.model, s.input)), none);
        assertEq(uint256(settlement.workStatus(jobId, WORK, s.input, s.model)), none);
        assertEq(uint256(settlement.workStatus(jobId, WORK, s.model, s.output)), none);
    }

    function test_onlyTheConsumerRequestsWork() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        address[3] memory others = [provider, stranger, admin];
        for (uint256 i; i < others.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(Settlement.NotConsumer.selector, jobId));
            vm.prank(others[i]);
            settlement.requestWork(jobId, WORK, s.model, s.input);
        }
    }

    function test_requestWorkNeedsARegisteredWorkCircuit() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        bytes32[2] memory ids = [keccak256("unknown"), REAL];
        for (uint256 i; i < ids.length; ++i) {
            // A meter circuit is not a workload circuit.
            vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownWorkCircuit.selector, ids[i]));
            vm.prank(consumer);
            settlement.requestWork(jobId, ids[i], s.model, s.input);
        }
    }

    function test_requestWorkNeedsALiveJob() public {
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotOpen.selector, 7));
        vm.prank(consumer);
        settlement.requestWork(7, WORK, 1, 2);

        uint64 closed = _open(_each(1e6));
        vm.prank(provider);
        settlement.closeJob(closed);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotOpen.selector, closed));
        vm.prank(consumer);
        settlement.requestWork(closed, WORK, 1, 2);

        uint64 expired = _open(_each(1e6));
        uint256 deadline = block.timestamp + LIFETIME + settlement.settlementGrace();
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobExpired.selector, expired, deadline));
        vm.prank(consumer);
        settlement.requestWork(expired, WORK, 1, 2);
    }

    function test_requestWorkRefusesCommitmentsNotInTheField() public {
        uint64 jobId = _open(_each(1e6));
        vm.startPrank(consumer);
        vm.expectRevert(abi.encodeWithSelector(Settlement.CommitmentNotInField.selector, R));
        settlement.requestWork(jobId, WORK, R, 1);
        vm.expectRevert(abi.encodeWithSelector(Settlement.CommitmentNotInField.selector, type(uint256).max));
        settlement.requestWork(jobId, WORK, 1, type(uint256).max);
        settlement.requestWork(jobId, WORK, R - 1, R - 1);
        vm.stopPrank();
    }

    function test_workIsRequestedOnce() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        _requestWork(s);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WorkAlreadyRequested.selector, jobId, WORK, s.model, s.input));
        _requestWork(s);
        settlement.settleWork(WORK, s, _proveWork(s, 1));
        vm.expectRevert(abi.encodeWithSelector(Settlement.WorkAlreadySettled.selector, jobId, WORK, s.model, s.input));
        _requestWork(s);
    }

    // ================================================================ settling

    function test_settleWorkPaysTheProvider() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        _requestWork(s);
        vm.expectEmit(address(settlement));
        emit Settlement.WorkSettled(jobId, WORK, provider, s.model, s.input, s.output, UNITS, UNITS, UNITS);
        // Anyone may settle: the proof is the authority.
        vm.prank(stranger);
        settlement.settleWork(WORK, s, _proveWork(s, 1));
        assertEq(uint256(settlement.workStatus(jobId, WORK, s.model, s.input)), uint256(Settlement.WorkStatus.Settled));
        assertEq(token.balanceOf(provider, 0), UNITS);
        uint128[5] memory escrow = _escrowOf(jobId);
        assertEq(escrow[0], 1e6 - UNITS);
        for (uint256 c = 1; c < 5; ++c) {
            assertEq(escrow[c], 1e6, "other classes untouched");
        }
        assertEq(_state(jobId).seq, 0, "the meter stream does not move");
    }

    function test_settleWorkAppliesTheWorkTariffAndTheFee() public {
        vm.startPrank(admin);
        settlement.setWorkTariff(2, 7, 3);
        settlement.setProtocolFee(250);
        vm.stopPrank();
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 2, UNITS);
        _requestWork(s);
        uint256 bill = uint256(UNITS) * 7 / 3; // 2333
        uint256 minted = bill - bill * 250 / 10_000; // 2333 − 58
        assertEq(minted, 2275);
        vm.expectEmit(address(settlement));
        emit Settlement.WorkSettled(jobId, WORK, provider, s.model, s.input, s.output, UNITS, bill, minted);
        settlement.settleWork(WORK, s, _proveWork(s, 1));
        assertEq(token.balanceOf(provider, 2), minted);
        assertEq(token.balanceOf(address(settlement), 2), 1e6 - bill, "the fee is burned with the bill");
        assertEq(_escrowOf(jobId)[2], 1e6 - bill);
        assertEq(token.balanceOf(provider, 0), 0, "nothing in the GPU class");
    }

    function test_settleWorkBeyondTheEscrowPaysWhatThereIs() public {
        uint64 jobId = _open([uint128(100), 0, 0, 0, 0]);
        Settlement.WorkStatement memory s = _workStatement(jobId, 3, UNITS);
        _requestWork(s);
        vm.expectEmit(address(settlement));
        emit Settlement.WorkSettled(jobId, WORK, provider, s.model, s.input, s.output, UNITS, 100, 100);
        vm.expectEmit(address(settlement));
        emit Settlement.EscrowShortfall(jobId, [uint256(UNITS - 100), 0, 0, 0, 0]);
        settlement.settleWork(WORK, s, _proveWork(s, 1));
        assertEq(token.balanceOf(provider, 0), 100);
        assertEq(_escrowOf(jobId)[0], 0);

        // With an empty escrow the work still settles, all of it shortfall, no token calls.
        Settlement.WorkStatement memory t = _workStatement(jobId, 4, UNITS);
        _requestWork(t);
        vm.recordLogs();
        settlement.settleWork(WORK, t, _proveWork(t, 1));
        assertEq(vm.getRecordedLogs().length, 2, "WorkSettled and EscrowShortfall only");
        assertEq(uint256(settlement.workStatus(jobId, WORK, t.model, t.input)), uint256(Settlement.WorkStatus.Settled));
    }

    function test_settleWorkNeedsARequest() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        bytes memory notRequested =
            abi.encodeWithSelector(Settlement.WorkNotRequested.selector, jobId, WORK, s.model, s.input);
        uint256[8] memory proof = _proveWork(s, 1);
        vm.expectRevert(notRequested);
        settlement.settleWork(WORK, s, proof);
        // A request for another input of the same model does not cover this one.
        Settlement.WorkStatement memory other = _workStatement(jobId, 1, UNITS);
        other.input = addmod(s.input, 1, R);
        _requestWork(other);
        vm.expectRevert(notRequested);
        settlement.settleWork(WORK, s, proof);
    }

    function test_settleWorkRefusesReplaysAndReRandomisedProofs() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        _requestWork(s);
        uint256[8] memory proof = _proveWork(s, 1);
        settlement.settleWork(WORK, s, proof);
        bytes memory settled =
            abi.encodeWithSelector(Settlement.WorkAlreadySettled.selector, jobId, WORK, s.model, s.input);
        uint256[8][3] memory replays = [proof, _proveWork(s, 99), Trapdoor.negate(proof)];
        for (uint256 i; i < replays.length; ++i) {
            assertTrue(workVerifier.verifyProof(replays[i], _workInputs(s)), "each replay verifies");
            vm.expectRevert(settled);
            settlement.settleWork(WORK, s, replays[i]);
        }
        // Nor does another output or work count for the same request get paid again.
        Settlement.WorkStatement memory more = _workStatement(jobId, 1, 2 * UNITS);
        uint256[8] memory moreProof = _proveWork(more, 1);
        vm.expectRevert(settled);
        settlement.settleWork(WORK, more, moreProof);
        assertEq(token.balanceOf(provider, 0), UNITS);
    }

    function test_settleWorkRefusesTamperedStatements() public {
        uint64 jobId = _open(_each(1e6));
        uint64 otherJob = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        _requestWork(s);
        uint256[8] memory proof = _proveWork(s, 1);

        // (Each tampered statement is a fresh copy: memory structs assign by reference.)
        Settlement.WorkStatement memory t = _workStatement(jobId, 1, UNITS);
        t.output = addmod(s.output, 1, R);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settleWork(WORK, t, proof);

        t = _workStatement(jobId, 1, UNITS + 1);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settleWork(WORK, t, proof);

        // The proof is bound to its job: the same work requested in another job.
        t = _workStatement(otherJob, 1, UNITS);
        _requestWork(t);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settleWork(WORK, t, proof);

        // A proof under another key (another workload circuit's). A meter circuit's key
        // cannot even be registered for work: it has five inputs.
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongPublicInputCount.selector, 4, 5));
        settlement.setWorkCircuit(keccak256("meter key as work"), verifier);
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(WORK_IC0 + 1000, 4);
        Groth16Verifier other = new Groth16Verifier(a, b, g, d, ic);
        vm.prank(admin);
        settlement.setWorkCircuit(keccak256("other workload"), other);
        vm.prank(consumer);
        settlement.requestWork(jobId, keccak256("other workload"), s.model, s.input);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settleWork(keccak256("other workload"), s, proof);

        settlement.settleWork(WORK, s, proof);
        assertEq(token.balanceOf(provider, 0), UNITS, "only the honest statement is paid");
    }

    function test_settleWorkRefusesAnOutputNotInTheField() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        _requestWork(s);
        uint256[8] memory proof = _proveWork(s, 1);
        // output + r is the same scalar to ecMul, so without the check it would verify.
        s.output += R;
        vm.expectRevert(abi.encodeWithSelector(Settlement.CommitmentNotInField.selector, s.output));
        settlement.settleWork(WORK, s, proof);
    }

    function test_settleWorkNeedsAWorkCircuit() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        _requestWork(s);
        uint256[8] memory proof = _proveWork(s, 1);
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownWorkCircuit.selector, REAL));
        settlement.settleWork(REAL, s, proof);
        // A workload circuit does not settle meter epochs either.
        Settlement.MeterStatement memory epoch = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        bytes memory sig = _sign(METER_KEY, epoch);
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownCircuit.selector, WORK));
        settlement.settle(WORK, epoch, proof, sig);
        // A removed circuit settles nothing, even what was requested with it.
        vm.prank(admin);
        settlement.setWorkCircuit(WORK, IGroth16Verifier(address(0)));
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownWorkCircuit.selector, WORK));
        settlement.settleWork(WORK, s, proof);
    }

    function test_settleWorkNeedsALiveJob() public {
        uint64 jobId = _open(_each(1e6));
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        _requestWork(s);
        uint256[8] memory proof = _proveWork(s, 1);
        uint256 deadline = block.timestamp + LIFETIME + settlement.settlementGrace();
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobExpired.selector, jobId, deadline));
        settlement.settleWork(WORK, s, proof);
        // Within the grace it still settles.
        vm.warp(deadline);
        uint256 snapshot = vm.snapshotState();
        settlement.settleWork(WORK, s, proof);
        vm.revertToState(snapshot);
        // Once the job is closed it does not.
        vm.prank(provider);
        settlement.closeJob(jobId);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotOpen.selector, jobId));
        settlement.settleWork(WORK, s, proof);
    }

    function test_attestationDoesNotApplyToWork() public {
        uint64 jobId = _open(_each(1e6));
        vm.prank(admin);
        settlement.setAttestationRequired(true);
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, UNITS);
        _requestWork(s);
        settlement.settleWork(WORK, s, _proveWork(s, 1));
        assertEq(token.balanceOf(provider, 0), UNITS);
        // Meter epochs of the same job do need the approval.
        Settlement.MeterStatement memory epoch = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256[8] memory proof = _prove(epoch, 1);
        bytes memory sig = _sign(METER_KEY, epoch);
        vm.expectRevert(abi.encodeWithSelector(Settlement.MeterNotApproved.selector, meter));
        settlement.settle(REAL, epoch, proof, sig);
    }

    // ================================================================ billing arithmetic

    function testFuzz_workBilling(uint64 units, uint8 class, uint128 amount, uint128 per, uint16 feeBps, uint128 escrow)
        public
    {
        uint256 c = class % 5;
        per = uint128(bound(per, 1, type(uint128).max));
        feeBps = uint16(bound(feeBps, 0, settlement.MAX_PROTOCOL_FEE_BPS()));
        escrow = uint128(bound(escrow, 0, CONSUMER_TOKENS));
        vm.startPrank(admin);
        settlement.setWorkTariff(c, amount, per);
        settlement.setProtocolFee(feeBps);
        vm.stopPrank();
        // Computed here independently: units · amount < 2^192 cannot overflow.
        uint256 bill = uint256(units) * amount / per;
        uint256 paid = bill < escrow ? bill : escrow;
        _settleAndCheck(c, units, escrow, paid, paid - paid * feeBps / 10_000);
        assertLe(paid, bill);
    }

    /// @dev Opens a job escrowing `escrow` of class `c`, requests and settles `units` of
    ///      work, and checks `paid` left the escrow and was burned, `minted` reached the provider.
    function _settleAndCheck(uint256 c, uint64 units, uint128 escrow, uint256 paid, uint256 minted) internal {
        uint128[5] memory deposit;
        deposit[c] = escrow;
        uint64 jobId = _open(deposit);
        Settlement.WorkStatement memory s = _workStatement(jobId, units, units);
        _requestWork(s);
        uint256 held = token.balanceOf(address(settlement), c);
        settlement.settleWork(WORK, s, _proveWork(s, units));
        assertEq(token.balanceOf(provider, c), minted);
        assertEq(_escrowOf(jobId)[c], escrow - paid);
        assertEq(token.balanceOf(address(settlement), c), held - paid, "bill and fee burned");
        assertLe(minted, paid);
    }
}
