// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Groth16Verifier} from "../src/Groth16Verifier.sol";
import {ResourceToken} from "../src/ResourceToken.sol";
import {Settlement} from "../src/Settlement.sol";
import {MockVerifier} from "./helpers/MockVerifier.sol";
import {Trapdoor} from "./helpers/Trapdoor.sol";
import {Test} from "forge-std/Test.sol";

/// @notice A real proof from zkmeter's Rust prover (MeterCircuit v2, real setup), verified
///         and settled on-chain. The fixture is written by
///         `cargo run --release --example contract_fixture` (from the workspace root) into
///         test/fixtures/meter_proof.json: verifying key, proof and public inputs as decimal
///         strings in the precompile's word order, the statement, and the throwaway key of
///         its meter. This checks the Rust side and the contracts agree on the verifying-key
///         and proof encodings, the public-input packing (five inputs, x4 the job's
///         capacity), the genesis head, the stream's start at the job's opening time and the
///         EIP-712 signatures (stream state and meter registration).
///
///         Fields read: `vk.alpha` (2 words), `vk.beta`, `vk.gamma`, `vk.delta` (4 words
///         each), `vk.ic` (6 points of 2 words: a 5-input key), `proof` (8 words),
///         `public_inputs` (5 words), `statement.meter`, `statement.job_id`,
///         `statement.prev` and `statement.new` ({`head`, `seq`, `end_ms`}),
///         `statement.totals` (5), `statement.capacity` (5: the job's), `statement.record_count`,
///         `meter_private_key`. The job is opened at `prev.end_ms` / 1000 seconds, so a
///         first epoch (`prev.seq` 0) must have `prev.end_ms` a whole second (the opening
///         block's time × 1000); `new.end_ms` must be a real Unix time in ms, since the
///         epoch settles in a block at or after it.
contract MeterProofFixtureTest is Test {
    string internal constant FIXTURE = "test/fixtures/meter_proof.json";
    bytes32 internal constant CIRCUIT = keccak256("zkmeter.meter.v2/fixture");

    string internal json;
    uint256[8] internal proof;
    uint256[6] internal inputs; // x0..x4 and the verifier's sixth word, 0
    Groth16Verifier internal verifier;
    Settlement.MeterStatement internal statement;
    uint256 internal meterKey;
    address internal meter;
    uint48[5] internal capacity;

    function setUp() public {
        json = vm.readFile(FIXTURE);
        uint256[2] memory alpha = _words2(".vk.alpha");
        uint256[4] memory beta = _words4(".vk.beta");
        uint256[4] memory gamma = _words4(".vk.gamma");
        uint256[4] memory delta = _words4(".vk.delta");
        uint256[2][] memory ic = new uint256[2][](6);
        for (uint256 i; i < 6; ++i) {
            ic[i] = _words2(string.concat(".vk.ic[", vm.toString(i), "]"));
        }
        verifier = new Groth16Verifier(alpha, beta, gamma, delta, ic);

        uint256[] memory p = vm.parseJsonUintArray(json, ".proof");
        require(p.length == 8, "fixture: proof must have 8 words");
        for (uint256 i; i < 8; ++i) {
            proof[i] = p[i];
        }
        uint256[] memory x = vm.parseJsonUintArray(json, ".public_inputs");
        require(x.length == 5, "fixture: 5 public inputs (meter statement v2)");
        for (uint256 i; i < 5; ++i) {
            inputs[i] = x[i];
        }

        statement.jobId = uint64(vm.parseJsonUint(json, ".statement.job_id"));
        statement.prev = _state(".statement.prev");
        statement.next = _state(".statement.new");
        uint256[] memory totals = vm.parseJsonUintArray(json, ".statement.totals");
        uint256[] memory cap = vm.parseJsonUintArray(json, ".statement.capacity");
        for (uint256 c; c < 5; ++c) {
            statement.totals[c] = uint64(totals[c]);
            capacity[c] = uint48(cap[c]);
        }
        meterKey = vm.parseJsonUint(json, ".meter_private_key");
        meter = vm.parseJsonAddress(json, ".statement.meter");
        require(vm.addr(meterKey) == meter, "fixture: meter_private_key is not the meter's key");
        require(
            statement.next.seq - statement.prev.seq == vm.parseJsonUint(json, ".statement.record_count"),
            "fixture: record_count"
        );
    }

    function test_realProofVerifies() public view {
        assertEq(verifier.PUBLIC_INPUTS(), 5);
        assertTrue(verifier.verifyProof(proof, inputs));
        assertTrue(verifier.verifyProof(Trapdoor.negate(proof), inputs), "negated proof is valid too");
    }

    function test_realProofFailsForOtherInputs() public view {
        for (uint256 i; i < 5; ++i) {
            uint256[6] memory x = inputs;
            x[i] = addmod(x[i], 1, Trapdoor.R);
            assertFalse(verifier.verifyProof(proof, x));
        }
    }

    function test_realProofSettles() public {
        address admin = makeAddr("admin");
        address provider = makeAddr("provider");
        address consumer = makeAddr("consumer");
        ResourceToken token = new ResourceToken(admin, "");
        Settlement settlement = new Settlement(token, admin);
        MockVerifier mock = new MockVerifier();
        vm.startPrank(admin);
        token.grantRole(token.MINTER_ROLE(), address(settlement));
        token.grantRole(token.MINTER_ROLE(), admin);
        settlement.setCircuit(CIRCUIT, verifier);
        settlement.setCircuit(keccak256("mock"), mock);
        for (uint256 c; c < 5; ++c) {
            token.mint(consumer, c, 1e12, "");
        }
        vm.stopPrank();
        _register(settlement, provider);

        // The stream starts when the job opens: open it at prev.end_ms (a first epoch's
        // prev.end_ms is the opening time).
        vm.warp(statement.prev.endMs / 1000);
        vm.startPrank(consumer);
        token.setApprovalForAll(address(settlement), true);
        uint64 jobId;
        while (jobId < statement.jobId) {
            jobId = settlement.openJob(
                meter, capacity, uint64(block.timestamp + 30 days), [uint128(1e9), 1e9, 1e9, 1e9, 1e9]
            );
        }
        vm.stopPrank();
        assertEq(
            uint256(settlement.jobInfo(jobId).state.endMs), block.timestamp * 1000, "the stream starts at the opening"
        );

        // The stream starts at the genesis head both sides compute.
        assertEq(settlement.genesisHead(meter, statement.jobId), settlement.jobInfo(jobId).state.head);
        if (statement.prev.seq == 0) {
            assertEq(statement.prev.head, settlement.genesisHead(meter, statement.jobId), "genesis head differs");
            assertEq(statement.prev.endMs % 1000, 0, "a first epoch starts at the opening block's time, whole seconds");
        } else {
            // Bring the stream to the fixture's previous state through a mock epoch.
            Settlement.MeterStatement memory lead;
            lead.jobId = jobId;
            lead.prev = settlement.jobInfo(jobId).state;
            lead.next = statement.prev;
            settlement.settle(keccak256("mock"), lead, proof, _sign(settlement, lead));
        }
        // The contract packs the statement exactly as the Rust prover did.
        uint256[5] memory x = settlement.publicInputs(statement);
        for (uint256 i; i < 5; ++i) {
            assertEq(x[i], inputs[i], "public input differs from the prover's");
        }

        // The epoch can only settle once its end has passed (give or take the clock skew).
        if (block.timestamp * 1000 < statement.next.endMs) vm.warp((statement.next.endMs + 999) / 1000);

        bytes memory sig = _sign(settlement, statement);
        settlement.settle(CIRCUIT, statement, proof, sig);
        emit log_named_uint("settle gas, real proof", vm.lastCallGas().gasTotalUsed);

        Settlement.StreamState memory st = settlement.jobInfo(jobId).state;
        assertEq(st.head, statement.next.head);
        assertEq(st.seq, statement.next.seq);
        assertEq(st.endMs, statement.next.endMs);
        for (uint256 c; c < 5; ++c) {
            assertEq(token.balanceOf(provider, c), statement.totals[c]);
            assertEq(settlement.jobInfo(jobId).escrow[c], 1e9 - statement.totals[c]);
        }

        // Neither a replay nor a re-randomised proof of the settled statement goes through.
        bytes memory stale = abi.encodeWithSelector(
            Settlement.StaleState.selector, statement.next.head, statement.next.seq, statement.next.endMs
        );
        vm.expectRevert(stale);
        settlement.settle(CIRCUIT, statement, proof, sig);
        uint256[8] memory negated = Trapdoor.negate(proof);
        vm.expectRevert(stale);
        settlement.settle(CIRCUIT, statement, negated, sig);
    }

    /// @dev `provider` registers the fixture's meter with its key's signature; the
    ///      registration leaves room for every job up to the fixture's (each of the
    ///      fixture's capacity).
    function _register(Settlement settlement, address provider) internal {
        (uint8 v, bytes32 r, bytes32 sv) = vm.sign(meterKey, settlement.registrationDigest(meter, provider));
        uint48 max = type(uint48).max;
        vm.prank(provider);
        settlement.registerMeter(meter, [max, max, max, max, max], abi.encodePacked(r, sv, v));
    }

    function _sign(Settlement settlement, Settlement.MeterStatement memory s) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 sv) = vm.sign(meterKey, settlement.stateDigest(meter, s.jobId, s.next));
        return abi.encodePacked(r, sv, v);
    }

    function _state(string memory key) internal view returns (Settlement.StreamState memory) {
        return Settlement.StreamState(
            vm.parseJsonUint(json, string.concat(key, ".head")),
            uint64(vm.parseJsonUint(json, string.concat(key, ".seq"))),
            uint64(vm.parseJsonUint(json, string.concat(key, ".end_ms")))
        );
    }

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
