// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {ResourceToken} from "../../src/ResourceToken.sol";
import {Settlement} from "../../src/Settlement.sol";

/// @notice Drives a Settlement through random opens (capacities within what the meter has
///         left), fundings, settlements (proofs from a mock verifier that says yes; epochs
///         ending between the stored end and the latest the clock and the expiry allow),
///         batches with an epoch someone settled first, closings, re-registrations, tariff
///         and fee changes and the passing of time, keeping the ghost totals the invariants
///         compare the chain against.
contract SettlementHandler is Test {
    Settlement internal immutable settlement;
    ResourceToken internal immutable token;
    bytes32 internal immutable circuit;
    uint256 internal immutable meterKey;
    address internal immutable consumer;
    address internal immutable provider;
    address internal immutable governor;

    uint64[] public jobIds;
    uint256[5] public burnedTotal;
    uint256[5] public mintedTotal;

    constructor(
        Settlement settlement_,
        bytes32 circuit_,
        uint256 meterKey_,
        address consumer_,
        address provider_,
        address governor_
    ) {
        settlement = settlement_;
        token = settlement_.token();
        circuit = circuit_;
        meterKey = meterKey_;
        consumer = consumer_;
        provider = provider_;
        governor = governor_;
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function open(uint128[5] memory escrow, uint48[5] memory capacity, uint32 lifetime) external {
        (,, uint48[5] memory registered, uint48[5] memory committed) = settlement.meterInfo(vm.addr(meterKey));
        for (uint256 c; c < 5; ++c) {
            escrow[c] = uint128(bound(escrow[c], 0, 1e24));
            capacity[c] = uint48(bound(capacity[c], 0, registered[c] - committed[c]));
        }
        vm.prank(consumer);
        jobIds.push(
            settlement.openJob(
                vm.addr(meterKey), capacity, uint64(block.timestamp) + uint64(bound(lifetime, 1, 365 days)), escrow
            )
        );
    }

    /// @dev The provider re-registers the meter with a capacity no lower than its open jobs hold.
    function reRegister(uint48[5] memory capacity) external {
        address meter = vm.addr(meterKey);
        (,,, uint48[5] memory committed) = settlement.meterInfo(meter);
        for (uint256 c; c < 5; ++c) {
            capacity[c] = uint48(bound(capacity[c], committed[c], type(uint48).max));
        }
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(meterKey, settlement.registrationDigest(meter, provider));
        vm.prank(provider);
        settlement.registerMeter(meter, capacity, abi.encodePacked(r, sig, v));
    }

    function fund(uint256 pick, uint128[5] memory amounts) external {
        (uint64 jobId, bool live) = _pick(pick);
        if (!live) return;
        for (uint256 c; c < 5; ++c) {
            amounts[c] = uint128(bound(amounts[c], 0, 1e24));
        }
        vm.prank(consumer);
        settlement.fundJob(jobId, amounts);
    }

    function settle(uint256 pick, uint64[5] memory totals, uint16 count, uint64 endMs) external {
        (uint64 jobId, bool live) = _pick(pick);
        if (!live) return;
        (Settlement.MeterStatement memory s, bool ok) = _epoch(jobId, totals, count, endMs);
        if (!ok) return;
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(meterKey, settlement.stateDigest(vm.addr(meterKey), jobId, s.next));
        (uint256[5] memory settlementBefore, uint256[5] memory providerBefore) = _balances();
        settlement.settle(circuit, s, [uint256(0), 0, 0, 0, 0, 0, 0, 0], abi.encodePacked(r, sig, v));
        _account(settlementBefore, providerBefore);
    }

    /// @dev A batch of two epochs of one job, the first settled on its own before (by a
    ///      third party): the batch skips it and settles the second.
    function settleGriefedBatch(uint256 pick, uint64[5] memory totals, uint16 count) external {
        (uint64 jobId, bool live) = _pick(pick);
        if (!live) return;
        (Settlement.MeterStatement memory first, bool ok) = _epoch(jobId, totals, count, 0);
        if (!ok) return;
        Settlement.MeterStatement[] memory ss = new Settlement.MeterStatement[](2);
        bytes[] memory sigs = new bytes[](2);
        ss[0] = first;
        sigs[0] = _sign(first);
        (uint256[5] memory settlementBefore, uint256[5] memory providerBefore) = _balances();
        settlement.settle(circuit, first, [uint256(0), 0, 0, 0, 0, 0, 0, 0], sigs[0]);
        (ss[1], ok) = _epoch(jobId, totals, count, 0);
        if (ok) {
            sigs[1] = _sign(ss[1]);
            assertEq(settlement.settleBatch(circuit, ss, new uint256[8][](2), sigs), 1);
        }
        _account(settlementBefore, providerBefore);
    }

    /// @dev The epoch after the job's stored state, ending between the stored end and the
    ///      latest end the clock and the job's expiry allow; not ok if there is no such epoch.
    function _epoch(uint64 jobId, uint64[5] memory totals, uint16 count, uint64 endMs)
        internal
        view
        returns (Settlement.MeterStatement memory s, bool ok)
    {
        s.jobId = jobId;
        Settlement.JobView memory j = settlement.jobInfo(jobId);
        s.prev = j.state;
        uint256 latest = block.timestamp * 1000 + settlement.clockSkewMs();
        uint256 expiry = uint256(j.expiresAt) * 1000;
        if (expiry < latest) latest = expiry;
        if (latest < s.prev.endMs || s.prev.seq > type(uint64).max - 1000) return (s, false);
        // Totals within their lanes (gpu, cpu 44 bits, network 52, energy 48).
        totals[0] = uint64(bound(totals[0], 0, (1 << 44) - 1));
        totals[1] = uint64(bound(totals[1], 0, (1 << 44) - 1));
        totals[3] = uint64(bound(totals[3], 0, (1 << 52) - 1));
        totals[4] = uint64(bound(totals[4], 0, (1 << 48) - 1));
        s.next = Settlement.StreamState(
            uint256(keccak256(abi.encode(jobId, s.prev.seq)))
                % 21888242871839275222246405745257275088548364400416034343698204186575808495617,
            s.prev.seq + uint64(bound(count, 1, 1000)),
            uint64(bound(endMs, s.prev.endMs, latest))
        );
        s.totals = totals;
        ok = true;
    }

    function _sign(Settlement.MeterStatement memory s) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 sig) =
            vm.sign(meterKey, settlement.stateDigest(vm.addr(meterKey), s.jobId, s.next));
        return abi.encodePacked(r, sig, v);
    }

    function _balances() internal view returns (uint256[5] memory held, uint256[5] memory earned) {
        for (uint256 c; c < 5; ++c) {
            held[c] = token.balanceOf(address(settlement), c);
            earned[c] = token.balanceOf(provider, c);
        }
    }

    /// @dev Adds what left the settlement contract and reached the provider since `before`.
    function _account(uint256[5] memory settlementBefore, uint256[5] memory providerBefore) internal {
        for (uint256 c; c < 5; ++c) {
            burnedTotal[c] += settlementBefore[c] - token.balanceOf(address(settlement), c);
            mintedTotal[c] += token.balanceOf(provider, c) - providerBefore[c];
        }
    }

    function close(uint256 pick, bool byProvider) external {
        if (jobIds.length == 0) return;
        uint64 jobId = jobIds[pick % jobIds.length];
        Settlement.JobView memory j = settlement.jobInfo(jobId);
        if (j.status != Settlement.JobStatus.Open) return;
        if (byProvider) {
            vm.prank(provider);
        } else {
            uint256 deadline = uint256(j.expiresAt) + settlement.settlementGrace();
            if (block.timestamp <= deadline) vm.warp(deadline + 1);
        }
        settlement.closeJob(jobId);
    }

    function setPrices(uint8 class, uint128 amount, uint128 per, uint16 feeBps) external {
        vm.startPrank(governor);
        settlement.setTariff(class % 5, uint128(bound(amount, 0, 1e6)), uint128(bound(per, 1, 1e6)));
        settlement.setProtocolFee(bound(feeBps, 0, 1000));
        vm.stopPrank();
    }

    function wait(uint32 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 30 days));
    }

    function _pick(uint256 pick) internal view returns (uint64 jobId, bool live) {
        if (jobIds.length == 0) return (0, false);
        jobId = jobIds[pick % jobIds.length];
        Settlement.JobView memory j = settlement.jobInfo(jobId);
        live = j.status == Settlement.JobStatus.Open
            && block.timestamp <= uint256(j.expiresAt) + settlement.settlementGrace();
    }
}
