// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Settlement} from "../src/Settlement.sol";
import {SettlementFixture} from "./helpers/SettlementFixture.sol";

/// @notice `settle`, `settleBatch` and `settleWork` gas with the real Groth16Verifier, every
///         account and slot cold as in a transaction of its own. The execution gas of each
///         call is kept in snapshots/settle.json, settleBatch.json and settleWork.json; the
///         logs (-vv) add calldata and the 21 000 every transaction pays.
contract SettlementGasTest is SettlementFixture {
    uint64 internal jobId;
    Settlement.MeterStatement internal next;
    uint256[8] internal proof;
    bytes internal signature;

    function setUp() public override {
        super.setUp();
        jobId = _open(_each(1e18));
    }

    function _prepare(uint64[5] memory totals) internal {
        // Realistic values: a Unix-ms clock (the stream starts at the job's opening) and a
        // full-width head.
        Settlement.MeterStatement memory s = _statement(jobId, 64, totals);
        next = s;
        proof = _prove(s, 12345);
        signature = _sign(METER_KEY, s);
    }

    /// @dev A previous epoch, so balances and the stream slots are non-zero as in steady state.
    function _warmUp() internal {
        _settle(_statement(jobId, 1, [uint64(1), 1, 1, 1, 1]));
    }

    function _measure(string memory label) internal {
        Settlement.MeterStatement memory s = next;
        uint256[8] memory p = proof;
        bytes memory sig = signature;
        vm.cool(address(settlement));
        vm.cool(address(token));
        vm.cool(address(verifier));
        settlement.settle(REAL, s, p, sig);
        uint256 execution = vm.snapshotGasLastCall("settle", label);
        uint256 calldataGas = _calldataGas(abi.encodeCall(Settlement.settle, (REAL, s, p, sig)));
        emit log_named_string("case", label);
        emit log_named_uint("  settle execution gas", execution);
        emit log_named_uint("  calldata gas", calldataGas);
        emit log_named_uint("  transaction gas (execution + calldata + 21000)", execution + calldataGas + 21_000);
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    function test_gas_firstEpochOneClass() public {
        _prepare([uint64(3_600_000), 0, 0, 0, 0]);
        _measure("first epoch, 1 class billed, provider holds no tokens yet");
    }

    function test_gas_steadyStateOneClass() public {
        _warmUp();
        _prepare([uint64(3_600_000), 0, 0, 0, 0]);
        _measure("steady state, 1 class billed");
    }

    function test_gas_steadyStateThreeClasses() public {
        _warmUp();
        _prepare([uint64(3_600_000), 230_400_000, 0, 0, 1_500_000]);
        _measure("steady state, 3 classes billed (gpu, cpu, energy)");
    }

    function test_gas_steadyStateFiveClasses() public {
        _warmUp();
        _prepare([uint64(3_600_000), 230_400_000, 86_400_000_000, 1_000_000_000, 1_500_000]);
        _measure("steady state, 5 classes billed");
    }

    function test_gas_steadyStateNoUsage() public {
        _warmUp();
        _prepare([uint64(0), 0, 0, 0, 0]);
        _measure("steady state, no usage (stream moves, no token calls)");
    }

    // ------------------------------------------------------------ batches

    /// @dev n jobs in steady state, one epoch each, settled in one settleBatch.
    function _measureBatch(uint256 n, uint64[5] memory totals, string memory label) internal {
        Settlement.MeterStatement[] memory ss = new Settlement.MeterStatement[](n);
        uint256[8][] memory proofs = new uint256[8][](n);
        bytes[] memory sigs = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            uint64 id = i == 0 ? jobId : _open(_each(1e18));
            _settle(_statement(id, 1, [uint64(1), 1, 1, 1, 1]));
            ss[i] = _statement(id, 64, totals);
            proofs[i] = _prove(ss[i], 777 + i);
            sigs[i] = _sign(METER_KEY, ss[i]);
        }
        vm.cool(address(settlement));
        vm.cool(address(token));
        vm.cool(address(verifier));
        settlement.settleBatch(REAL, ss, proofs, sigs);
        uint256 execution = vm.snapshotGasLastCall("settleBatch", string.concat("batch of ", vm.toString(n), label));
        uint256 calldataGas = _calldataGas(abi.encodeCall(Settlement.settleBatch, (REAL, ss, proofs, sigs)));
        uint256 total = execution + calldataGas + 21_000;
        emit log_named_uint("batch of", n);
        emit log_named_uint("  settleBatch execution gas", execution);
        emit log_named_uint("  transaction gas", total);
        emit log_named_uint("  transaction gas per epoch", total / n);
    }

    function test_gas_batchOf2OneClass() public {
        _measureBatch(2, [uint64(3_600_000), 0, 0, 0, 0], ", 1 class billed each");
    }

    function test_gas_batchOf4OneClass() public {
        _measureBatch(4, [uint64(3_600_000), 0, 0, 0, 0], ", 1 class billed each");
    }

    function test_gas_batchOf8OneClass() public {
        _measureBatch(8, [uint64(3_600_000), 0, 0, 0, 0], ", 1 class billed each");
    }

    function test_gas_batchOf8ThreeClasses() public {
        _measureBatch(8, [uint64(3_600_000), 230_400_000, 0, 0, 1_500_000], ", 3 classes billed each");
    }

    // ------------------------------------------------------------ work

    /// @dev Multiply-accumulates of one row through a 784-128-10 MLP.
    uint64 internal constant MLP_UNITS = 784 * 128 + 128 * 10;

    function _measureWork(string memory label) internal {
        Settlement.WorkStatement memory s = _workStatement(jobId, 1, MLP_UNITS);
        _requestWork(s);
        uint256[8] memory p = _proveWork(s, 4242);
        vm.cool(address(settlement));
        vm.cool(address(token));
        vm.cool(address(workVerifier));
        settlement.settleWork(WORK, s, p);
        uint256 execution = vm.snapshotGasLastCall("settleWork", label);
        uint256 calldataGas = _calldataGas(abi.encodeCall(Settlement.settleWork, (WORK, s, p)));
        emit log_named_string("case", label);
        emit log_named_uint("  settleWork execution gas", execution);
        emit log_named_uint("  calldata gas", calldataGas);
        emit log_named_uint("  transaction gas (execution + calldata + 21000)", execution + calldataGas + 21_000);
    }

    function test_gas_settleWorkFirstPayment() public {
        _measureWork("first payment, provider holds no tokens yet");
    }

    function test_gas_settleWorkSteadyState() public {
        _warmUp();
        _measureWork("steady state");
    }
}
