// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Groth16Verifier} from "../src/Groth16Verifier.sol";
import {ResourceToken} from "../src/ResourceToken.sol";
import {Settlement} from "../src/Settlement.sol";
import {Trapdoor} from "./helpers/Trapdoor.sol";
import {Test} from "forge-std/Test.sol";

/// @notice A real workload proof from zkmeter's Rust prover (WorkloadCircuit, a 2×4 · 4×3
///         int8 matmul, real setup), verified and settled on-chain. The fixture is written by
///         `cargo run --release --example workload_fixture` (from the workspace root) into
///         test/fixtures/workload_proof.json: the 4-input verifying key, proof and public
///         inputs as decimal strings in the precompile's word order, and the statement. This
///         checks the Rust side and the contracts agree on the encodings of a key with fewer
///         than six inputs and on the packing of the work statement.
contract WorkloadProofFixtureTest is Test {
    string internal constant FIXTURE = "test/fixtures/workload_proof.json";
    bytes32 internal constant CIRCUIT = keccak256("zkmeter.workload.v1/fixture");

    string internal json;
    uint256[8] internal proof;
    uint256[6] internal inputs;
    Groth16Verifier internal verifier;
    Settlement.WorkStatement internal statement;

    function setUp() public {
        json = vm.readFile(FIXTURE);
        uint256[2][] memory ic = new uint256[2][](5);
        for (uint256 i; i < 5; ++i) {
            ic[i] = _words2(string.concat(".vk.ic[", vm.toString(i), "]"));
        }
        verifier = new Groth16Verifier(
            _words2(".vk.alpha"), _words4(".vk.beta"), _words4(".vk.gamma"), _words4(".vk.delta"), ic
        );

        uint256[] memory p = vm.parseJsonUintArray(json, ".proof");
        require(p.length == 8, "fixture: proof must have 8 words");
        for (uint256 i; i < 8; ++i) {
            proof[i] = p[i];
        }
        uint256[] memory x = vm.parseJsonUintArray(json, ".public_inputs");
        require(x.length == 4, "fixture: 4 public inputs");
        for (uint256 i; i < 4; ++i) {
            inputs[i] = x[i];
        }

        statement.jobId = uint64(vm.parseJsonUint(json, ".statement.job_id"));
        statement.model = vm.parseJsonUint(json, ".statement.model");
        statement.input = vm.parseJsonUint(json, ".statement.input");
        statement.output = vm.parseJsonUint(json, ".statement.output");
        statement.workUnits = uint64(vm.parseJsonUint(json, ".statement.work_units"));
    }

    function test_realProofVerifies() public view {
        assertEq(verifier.PUBLIC_INPUTS(), 4);
        assertTrue(verifier.verifyProof(proof, inputs));
        assertTrue(verifier.verifyProof(Trapdoor.negate(proof), inputs), "negated proof is valid too");
    }

    function test_realProofFailsForOtherInputs() public {
        for (uint256 i; i < 4; ++i) {
            uint256[6] memory x = inputs;
            x[i] = addmod(x[i], 1, Trapdoor.R);
            assertFalse(verifier.verifyProof(proof, x));
        }
        uint256[6] memory padded = inputs;
        padded[4] = 1;
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.UnusedInputNotZero.selector, 4));
        verifier.verifyProof(proof, padded);
    }

    function test_realProofSettles() public {
        address admin = makeAddr("admin");
        address provider = makeAddr("provider");
        address consumer = makeAddr("consumer");
        (address meter, uint256 meterKey) = makeAddrAndKey("meter");
        ResourceToken token = new ResourceToken(admin, "");
        Settlement settlement = new Settlement(token, admin);
        vm.startPrank(admin);
        token.grantRole(token.MINTER_ROLE(), address(settlement));
        token.grantRole(token.MINTER_ROLE(), admin);
        settlement.setWorkCircuit(CIRCUIT, verifier);
        settlement.setWorkTariff(0, 3, 2);
        token.mint(consumer, 0, 1e12, "");
        vm.stopPrank();
        (uint8 v, bytes32 r, bytes32 sv) = vm.sign(meterKey, settlement.registrationDigest(meter, provider));
        vm.prank(provider);
        settlement.registerMeter(meter, [uint48(1), 1, 1, 1, 1], abi.encodePacked(r, sv, v));

        vm.startPrank(consumer);
        token.setApprovalForAll(address(settlement), true);
        uint64 jobId;
        while (jobId < statement.jobId) {
            // Work needs no metering capacity.
            jobId = settlement.openJob(meter, _none(), uint64(block.timestamp + 30 days), [uint128(1e9), 0, 0, 0, 0]);
        }
        settlement.requestWork(jobId, CIRCUIT, statement.model, statement.input);
        vm.stopPrank();

        // The contract packs x3 = jobId | workUnits << 64 exactly as the Rust prover did.
        assertEq(inputs[0], statement.model);
        assertEq(inputs[1], statement.input);
        assertEq(inputs[2], statement.output);
        assertEq(inputs[3], uint256(statement.jobId) + uint256(statement.workUnits) * 2 ** 64);

        Settlement.WorkStatement memory s = statement;
        uint256[8] memory p = proof;
        // Tampered statements fail; each is a fresh copy (memory structs assign by reference).
        _expectInvalid(settlement, _tampered(0), p);
        _expectInvalid(settlement, _tampered(1), p);

        settlement.settleWork(CIRCUIT, s, p);
        emit log_named_uint("settleWork gas, real proof", vm.lastCallGas().gasTotalUsed);
        uint256 bill = uint256(s.workUnits) * 3 / 2;
        assertEq(token.balanceOf(provider, 0), bill);
        assertEq(settlement.jobInfo(jobId).escrow[0], 1e9 - bill);
        assertEq(
            uint256(settlement.workStatus(jobId, CIRCUIT, s.model, s.input)), uint256(Settlement.WorkStatus.Settled)
        );

        // Neither a replay nor a re-randomised proof of the settled work is paid again.
        bytes memory settled =
            abi.encodeWithSelector(Settlement.WorkAlreadySettled.selector, jobId, CIRCUIT, s.model, s.input);
        uint256[8] memory negated = Trapdoor.negate(p);
        vm.expectRevert(settled);
        settlement.settleWork(CIRCUIT, s, p);
        vm.expectRevert(settled);
        settlement.settleWork(CIRCUIT, s, negated);

        // The same proof for another job of the consumer's does not verify: it names its job.
        vm.startPrank(consumer);
        uint64 other = settlement.openJob(meter, _none(), uint64(block.timestamp + 30 days), [uint128(1e9), 0, 0, 0, 0]);
        settlement.requestWork(other, CIRCUIT, s.model, s.input);
        vm.stopPrank();
        Settlement.WorkStatement memory moved = _tampered(2);
        moved.jobId = other;
        _expectInvalid(settlement, moved, p);
    }

    /// @dev The fixture's statement with its output (0), work units (1) or nothing (2) changed.
    function _tampered(uint256 field) internal view returns (Settlement.WorkStatement memory t) {
        t = statement;
        if (field == 0) t.output = addmod(t.output, 1, Trapdoor.R);
        if (field == 1) t.workUnits += 1;
    }

    function _expectInvalid(Settlement settlement, Settlement.WorkStatement memory t, uint256[8] memory p) internal {
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settleWork(CIRCUIT, t, p);
    }

    function _none() internal pure returns (uint48[5] memory) {}

    function _words2(string memory key) internal view returns (uint256[2] memory w) {
        uint256[] memory a = vm.parseJsonUintArray(json, key);
        require(a.length == 2, string.concat("fixture: ", key, " must have 2 words"));
        (w[0], w[1]) = (a[0], a[1]);
    }

    function _words4(string memory key) internal view returns (uint256[4] memory w) {
        uint256[] memory a = vm.parseJsonUintArray(json, key);
        require(a.length == 4, string.concat("fixture: ", key, " must have 4 words"));
        (w[0], w[1], w[2], w[3]) = (a[0], a[1], a[2], a[3]);
    }
}
