// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Settlement} from "../src/Settlement.sol";
import {SettlementFixture} from "./helpers/SettlementFixture.sol";
import {SettlementHandler} from "./helpers/SettlementHandler.sol";

/// @notice Token accounting and the capacity sum rule hold whatever sequence of jobs,
///         settlements, batches, re-registrations and closings runs.
contract SettlementInvariantTest is SettlementFixture {
    SettlementHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new SettlementHandler(settlement, MOCK, METER_KEY, consumer, provider, admin);
        targetContract(address(handler));
    }

    /// @dev The settlement contract holds exactly the escrow of its open jobs.
    function invariant_escrowIsBacked() public view {
        uint256[5] memory held;
        for (uint256 i; i < handler.jobCount(); ++i) {
            Settlement.JobView memory j = settlement.jobInfo(handler.jobIds(i));
            if (j.status != Settlement.JobStatus.Open) {
                for (uint256 c; c < 5; ++c) {
                    assertEq(j.escrow[c], 0);
                }
                continue;
            }
            for (uint256 c; c < 5; ++c) {
                held[c] += j.escrow[c];
            }
        }
        for (uint256 c; c < 5; ++c) {
            assertEq(token.balanceOf(address(settlement), c), held[c]);
        }
    }

    /// @dev Nothing is created or lost: the consumer's tokens are in its wallet, in escrow
    ///      or burned; the provider got what was burned less at most the 10 % fee cap.
    function invariant_tokensAreConserved() public view {
        for (uint256 c; c < 5; ++c) {
            uint256 burned = handler.burnedTotal(c);
            uint256 minted = handler.mintedTotal(c);
            assertEq(token.balanceOf(consumer, c) + token.balanceOf(address(settlement), c) + burned, CONSUMER_TOKENS);
            assertEq(token.balanceOf(provider, c), minted);
            assertLe(minted, burned);
            assertGe(minted * 10_000, burned * 9_000);
        }
    }

    /// @dev The sum rule: the meter's committed capacity is the sum of its open jobs'
    ///      capacities, and never more than its registration, class by class.
    function invariant_capacityCommittedIsTheOpenJobs() public view {
        uint256[5] memory held;
        for (uint256 i; i < handler.jobCount(); ++i) {
            Settlement.JobView memory j = settlement.jobInfo(handler.jobIds(i));
            if (j.status != Settlement.JobStatus.Open) continue;
            for (uint256 c; c < 5; ++c) {
                held[c] += j.capacity[c];
            }
        }
        (,, uint48[5] memory registration, uint48[5] memory committed) = settlement.meterInfo(meter);
        for (uint256 c; c < 5; ++c) {
            assertEq(committed[c], held[c]);
            assertLe(committed[c], registration[c]);
        }
    }
}
