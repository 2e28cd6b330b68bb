// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {ResourceToken} from "../../src/ResourceToken.sol";
import {Settlement} from "../../src/Settlement.sol";

/// @notice Drives a Settlement through random opens, fundings, settlements (proofs from a
///         mock verifier that says yes), closings, tariff and fee changes and the passing of
///         time, keeping the ghost totals the invariants compare the chain against.
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

    function open(uint128[5] memory escrow, uint32 lifetime) external {
        for (uint256 c; c < 5; ++c) {
            escrow[c] = uint128(bound(escrow[c], 0, 1e24));
        }
        vm.prank(consumer);
        jobIds.push(
            settlement.openJob(
                vm.addr(meterKey), uint64(block.timestamp) + uint64(bound(lifetime, 1, 365 days)), escrow
            )
        );
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

    function settle(uint256 pick, uint64[5] memory totals, uint16 count) external {
        (uint64 jobId, bool live) = _pick(pick);
        if (!live) return;
        Settlement.MeterStatement memory s;
        s.jobId = jobId;
        s.prev = settlement.jobInfo(jobId).state;
        s.next = Settlement.StreamState(
            uint256(keccak256(abi.encode(jobId, s.prev.seq)))
                % 21888242871839275222246405745257275088548364400416034343698204186575808495617,
            s.prev.seq + uint64(bound(count, 1, 1000)),
            s.prev.endMs + 1000
        );
        s.totals = totals;
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(meterKey, settlement.stateDigest(vm.addr(meterKey), jobId, s.next));

        uint256[5] memory before;
        for (uint256 c; c < 5; ++c) {
            before[c] = token.balanceOf(address(settlement), c);
        }
        uint256[5] memory providerBefore;
        for (uint256 c; c < 5; ++c) {
            providerBefore[c] = token.balanceOf(provider, c);
        }
        settlement.settle(circuit, s, [uint256(0), 0, 0, 0, 0, 0, 0, 0], abi.encodePacked(r, sig, v));
        for (uint256 c; c < 5; ++c) {
            burnedTotal[c] += before[c] - token.balanceOf(address(settlement), c);
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
