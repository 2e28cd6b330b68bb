// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {VmSafe} from "forge-std/Vm.sol";

import {Settlement} from "../src/Settlement.sol";
import {SettlementFixture} from "./helpers/SettlementFixture.sol";
import {Trapdoor} from "./helpers/Trapdoor.sol";

/// @notice The five attacks meter statement v2 (issue 16) closes, each tried exactly, with
///         real pairing checks (trapdoor key: valid proofs for any inputs, so every refusal
///         here is the contract's, not a missing proof).
contract SettlementAttacksTest is SettlementFixture {
    // ================================================================ (a) a record from 0 to now

    /// @dev A meter proves one record from Unix time 0 to now: with a capacity per ms, time
    ///      since 1970 would make any total pass the circuit's total ≤ cap × elapsed. The
    ///      stream starts at the job's opening, so prev.endMs 0 continues nothing.
    function test_a_aRecordFromTheEpochOfUnixTimeIsStale() public {
        uint64 jobId = _open(_each(1e18));
        Settlement.StreamState memory start = _state(jobId);
        assertEq(start.endMs, START * 1000);
        vm.warp(block.timestamp + 1 hours);
        Settlement.MeterStatement memory s;
        s.jobId = jobId;
        s.prev = Settlement.StreamState(start.head, 0, 0);
        s.next = Settlement.StreamState(12345, 1, uint64(block.timestamp) * 1000);
        s.totals = [uint64(capacity[0]) * s.next.endMs, 0, 0, 0, 0]; // cap × (now − 0)
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(abi.encodeWithSelector(Settlement.StaleState.selector, start.head, 0, start.endMs));
        settlement.settle(REAL, s, proof, sig);
    }

    /// @dev …or a record that ends in the future: refused past block time + skew.
    function test_a_aRecordEndingInTheFutureIsRefused() public {
        uint64 jobId = _open(_each(1e18));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256 latest = block.timestamp * 1000 + settlement.DEFAULT_CLOCK_SKEW_MS();
        s.next.endMs = uint64(block.timestamp + 1 days) * 1000;
        s.totals[0] = uint64(capacity[0]) * (s.next.endMs - s.prev.endMs);
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(abi.encodeWithSelector(Settlement.EpochEndsAfterNow.selector, s.next.endMs, latest));
        settlement.settle(REAL, s, proof, sig);
        // Once the day has passed, the same epoch settles.
        vm.warp(block.timestamp + 1 days);
        settlement.settle(REAL, s, proof, sig);
        assertEq(_state(jobId).endMs, s.next.endMs);
    }

    /// @dev …or a record that ends after the job's expiry, even while the chain's clock
    ///      (plus skew) would allow it: refused.
    function test_a_aRecordEndingAfterTheExpiryIsRefused() public {
        uint64 jobId = _open(_each(1e18));
        // The consumer stops the job a minute in.
        vm.warp(block.timestamp + 60);
        vm.prank(consumer);
        settlement.setJobExpiry(jobId, uint64(block.timestamp));
        uint64 expiryMs = uint64(block.timestamp) * 1000;
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        s.next.endMs = expiryMs + 1;
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(
            abi.encodeWithSelector(Settlement.EpochEndsAfterExpiry.selector, s.next.endMs, uint256(expiryMs))
        );
        settlement.settle(REAL, s, proof, sig);
        // Up to the expiry itself is fine, within the grace.
        s.next.endMs = expiryMs;
        settlement.settle(REAL, s, _prove(s, 1), _sign(METER_KEY, s));
        assertEq(_state(jobId).endMs, expiryMs);
    }

    // ================================================================ (b) capacity raised after opening

    /// @dev The provider raises the meter's registration after the job opened: proofs are
    ///      still checked against the job's capacity, so a proof made for the raised one
    ///      (which would allow larger totals) fails and one for the job's passes.
    function test_b_raisingTheRegistrationDoesNotRaiseAJobsCapacity() public {
        uint48[5] memory jobCap = [uint48(8), 128, 1e10, 12_500_000, 10_000];
        _register(provider, METER_KEY, jobCap);
        uint64 jobId = _openWith(jobCap, _each(1e18));
        uint48[5] memory raised = [uint48(800), 12_800, 1e12, 1_250_000_000, 1_000_000];
        _register(provider, METER_KEY, raised);
        (,, uint48[5] memory registration,) = settlement.meterInfo(meter);
        assertEq(registration[0], 800);
        assertEq(settlement.jobInfo(jobId).capacity[0], 8, "the job keeps its capacity");

        // An hour at the raised GPU capacity: 800 × 3 600 000 GPU-ms.
        Settlement.MeterStatement memory s = _statement(jobId, 60, [uint64(800 * 3_600_000), 0, 0, 0, 0]);
        assertEq(s.next.endMs - s.prev.endMs, 3_600_000);
        bytes memory sig = _sign(METER_KEY, s);
        uint256[8] memory forRaised = _prove(s, raised, 1);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settle(REAL, s, forRaised, sig);

        // The job's capacity is what the contract puts in x4.
        uint256[5] memory x = settlement.publicInputs(s);
        assertEq(x[4], _inputs(s, jobCap)[4]);
        assertTrue(x[4] != _inputs(s, raised)[4]);

        // A proof against the job's capacity passes (the circuit would refuse these totals
        // for it, which is the point: the contract never lets the raised capacity in).
        settlement.settle(REAL, s, _prove(s, jobCap, 2), sig);
        assertEq(_state(jobId).seq, 60);
    }

    // ================================================================ (c) a meter registered without its key

    function test_c_aMeterIsNotRegisteredWithAnotherKeysSignature() public {
        uint256 key = 0x5EC2E7;
        address m = vm.addr(key);
        (uint8 v, bytes32 r, bytes32 sv) = vm.sign(0xB0B, settlement.registrationDigest(m, provider));
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongRegistrationSignature.selector, vm.addr(0xB0B), m));
        vm.prank(provider);
        settlement.registerMeter(m, capacity, abi.encodePacked(r, sv, v));
        _assertUnregistered(m);
    }

    function test_c_aSignatureForAnotherProviderDoesNotRegister() public {
        uint256 key = 0x5EC2E7;
        address m = vm.addr(key);
        bytes memory forStranger = _registrationSig(key, stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                Settlement.WrongRegistrationSignature.selector,
                _recover(settlement.registrationDigest(m, provider), forStranger),
                m
            )
        );
        vm.prank(provider);
        settlement.registerMeter(m, capacity, forStranger);
        _assertUnregistered(m);
    }

    function test_c_aSignatureForAnotherChainDoesNotRegister() public {
        uint256 key = 0x5EC2E7;
        address m = vm.addr(key);
        uint256 chain = block.chainid;
        vm.chainId(chain + 1);
        bytes memory otherChain = _registrationSig(key, provider);
        vm.chainId(chain);
        vm.expectRevert(
            abi.encodeWithSelector(
                Settlement.WrongRegistrationSignature.selector,
                _recover(settlement.registrationDigest(m, provider), otherChain),
                m
            )
        );
        vm.prank(provider);
        settlement.registerMeter(m, capacity, otherChain);
        _assertUnregistered(m);
    }

    function test_c_aSignatureForAnotherContractDoesNotRegister() public {
        uint256 key = 0x5EC2E7;
        address m = vm.addr(key);
        Settlement other = new Settlement(token, admin);
        (uint8 v, bytes32 r, bytes32 sv) = vm.sign(key, other.registrationDigest(m, provider));
        bytes memory forOther = abi.encodePacked(r, sv, v);
        vm.prank(provider);
        other.registerMeter(m, capacity, forOther); // good there
        vm.expectRevert(
            abi.encodeWithSelector(
                Settlement.WrongRegistrationSignature.selector,
                _recover(settlement.registrationDigest(m, provider), forOther),
                m
            )
        );
        vm.prank(provider);
        settlement.registerMeter(m, capacity, forOther);
        _assertUnregistered(m);
    }

    /// @dev A front-runner copies the provider's pending registration: the signature names
    ///      the provider, so it recovers to some other address for the front-runner, and the
    ///      meter cannot be squatted (which, with first-registrant ownership, would lock the
    ///      provider out for good).
    function test_c_aFrontRunnerCannotReplayTheProvidersRegistration() public {
        uint256 key = 0x5EC2E7;
        address m = vm.addr(key);
        bytes memory sig = _registrationSig(key, provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                Settlement.WrongRegistrationSignature.selector,
                _recover(settlement.registrationDigest(m, stranger), sig),
                m
            )
        );
        vm.prank(stranger);
        settlement.registerMeter(m, capacity, sig);
        _assertUnregistered(m);
        vm.prank(provider);
        settlement.registerMeter(m, capacity, sig);
        (address owner,,,) = settlement.meterInfo(m);
        assertEq(owner, provider);
    }

    // ================================================================ (d) one meter, two jobs, beyond its capacity

    /// @dev Two consumers each open a job for the meter's whole capacity: together they
    ///      would be billed twice what the meter can measure. The second is refused until
    ///      the first closes.
    function test_d_aMetersJobsNeverHoldMoreThanItsCapacity() public {
        uint48[5] memory reg = [uint48(8), 128, 1e10, 12_500_000, 10_000];
        _register(provider, METER_KEY, reg);
        uint64 first = _openWith(reg, _each(1000));
        for (uint256 c; c < 5; ++c) {
            uint48[5] memory one;
            one[c] = 1;
            vm.expectRevert(abi.encodeWithSelector(Settlement.CapacityUnavailable.selector, c, 1, 0));
            _openWith(one, _each(0));
        }
        vm.expectRevert(abi.encodeWithSelector(Settlement.CapacityUnavailable.selector, 0, 8, 0));
        _openWith(reg, _each(1000));

        // Neither can the provider shrink the registration under the open job's feet.
        uint48[5] memory lower = [uint48(8), 128, 1e10 - 1, 12_500_000, 10_000];
        bytes memory sig = _registrationSig(METER_KEY, provider);
        vm.expectRevert(abi.encodeWithSelector(Settlement.CapacityBelowOpenJobs.selector, 2, 1e10 - 1, 1e10));
        vm.prank(provider);
        settlement.registerMeter(meter, lower, sig);

        // Once the first job closes (the provider may close at any time), its capacity is free.
        vm.prank(provider);
        settlement.closeJob(first);
        uint64 second = _openWith(reg, _each(1000));
        // And split: half and half fit, a third half does not.
        vm.prank(provider);
        settlement.closeJob(second);
        uint48[5] memory half = [uint48(4), 64, 5e9, 6_250_000, 5_000];
        _openWith(half, _each(0));
        _openWith(half, _each(0));
        vm.expectRevert(abi.encodeWithSelector(Settlement.CapacityUnavailable.selector, 0, 4, 0));
        _openWith(half, _each(0));
        (,,, uint48[5] memory committed) = settlement.meterInfo(meter);
        assertEq(keccak256(abi.encode(committed)), keccak256(abi.encode(reg)));
    }

    /// @dev Anyone may close a job after its grace, giving its capacity back: an abandoned
    ///      job does not hold a meter's capacity for good.
    function test_d_anExpiredJobsCapacityIsFreedByAnyone() public {
        uint48[5] memory reg = [uint48(8), 0, 0, 0, 0];
        _register(provider, METER_KEY, reg);
        uint64 abandoned = _openWith(reg, _each(0));
        vm.warp(block.timestamp + LIFETIME + settlement.settlementGrace() + 1);
        vm.expectRevert(abi.encodeWithSelector(Settlement.CapacityUnavailable.selector, 0, 8, 0));
        _openWith(reg, _each(0));
        vm.prank(stranger);
        settlement.closeJob(abandoned);
        _openWith(reg, _each(0));
    }

    // ================================================================ (e) a griefed batch

    /// @dev The provider sends a batch of three epochs (two of one job, one of another); a
    ///      third party settles the first epoch on its own first (anyone may). The batch
    ///      still settles the other two, skipping the settled one, paying it once.
    function test_e_aBatchStillSettlesWhenSomeoneSettlesOneOfItsEpochsFirst() public {
        uint64 a = _open(_each(1000));
        uint64 b = _open(_each(1000));
        Settlement.MeterStatement[] memory ss = new Settlement.MeterStatement[](3);
        ss[0] = _statement(a, 2, [uint64(10), 0, 0, 0, 1]);
        ss[1] = _statement(b, 1, [uint64(0), 7, 0, 0, 0]);
        ss[2] = _statement(a, 3, [uint64(5), 0, 0, 3, 0]);
        ss[2].prev = ss[0].next;
        ss[2].next.seq = ss[0].next.seq + 3;
        ss[2].next.endMs = ss[0].next.endMs + 1;
        ss[2].next.head = 42;
        uint256[8][] memory proofs = new uint256[8][](3);
        bytes[] memory sigs = new bytes[](3);
        for (uint256 i; i < 3; ++i) {
            proofs[i] = _prove(ss[i], 100 + i);
            sigs[i] = _sign(METER_KEY, ss[i]);
        }

        // The griefer settles epoch 0 alone (with a re-randomised proof of it, even).
        vm.prank(stranger);
        settlement.settle(REAL, ss[0], _prove(ss[0], 777), sigs[0]);

        vm.recordLogs();
        vm.prank(provider);
        uint256 settled = settlement.settleBatch(REAL, ss, proofs, sigs);
        assertEq(settled, 2);
        VmSafe.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs[0].topics[0], Settlement.EpochSkipped.selector);
        assertEq(uint256(logs[0].topics[1]), a);
        assertEq(abi.decode(logs[0].data, (uint64)), ss[0].next.seq);

        assertEq(_state(a).seq, 5);
        assertEq(_state(a).head, 42);
        assertEq(_state(b).seq, 1);
        assertEq(token.balanceOf(provider, 0), 15, "epoch 0 paid once");
        assertEq(token.balanceOf(provider, 1), 7);
        assertEq(token.balanceOf(provider, 3), 3);
        assertEq(token.balanceOf(provider, 4), 1);
    }

    // ================================================================ helpers

    /// @dev A proof of `s` against capacity `cap` (whatever the job's is).
    function _prove(Settlement.MeterStatement memory s, uint48[5] memory cap, uint256 c)
        internal
        view
        returns (uint256[8] memory)
    {
        return Trapdoor.prove(IC0, _inputs(s, cap), c);
    }

    function _recover(bytes32 digest, bytes memory sig) internal pure returns (address) {
        (bytes32 r, bytes32 sv) = abi.decode(sig, (bytes32, bytes32));
        return ecrecover(digest, uint8(sig[64]), r, sv);
    }

    function _assertUnregistered(address m) internal view {
        (address owner,,,) = settlement.meterInfo(m);
        assertEq(owner, address(0));
    }
}
