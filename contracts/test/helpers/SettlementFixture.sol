// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {Groth16Verifier} from "../../src/Groth16Verifier.sol";
import {IGroth16Verifier} from "../../src/IGroth16Verifier.sol";
import {ResourceToken} from "../../src/ResourceToken.sol";
import {Settlement} from "../../src/Settlement.sol";
import {MockVerifier} from "./MockVerifier.sol";
import {Trapdoor} from "./Trapdoor.sol";

/// @notice A deployed system: token, settlement, a real 5-input Groth16Verifier with a
///         trapdoor key (circuit REAL) and a mock verifier (circuit MOCK), a real 4-input
///         verifier with a trapdoor key registered as workload circuit WORK, a meter
///         registered (with its signature) with the largest capacity there is, so many jobs
///         of `capacity` fit, and a consumer holding tokens of every class and approving the
///         settlement contract.
abstract contract SettlementFixture is Test {
    uint256 internal constant R = Trapdoor.R;
    uint256 internal constant IC0 = 11;
    bytes32 internal constant REAL = keccak256("zkmeter.meter.v2/trapdoor");
    bytes32 internal constant MOCK = keccak256("zkmeter.meter.v2/mock");
    uint256 internal constant WORK_IC0 = 23;
    bytes32 internal constant WORK = keccak256("zkmeter.workload.v1/trapdoor");
    uint256 internal constant METER_KEY = 0xA11CE;
    uint256 internal constant START = 1_700_000_000;
    uint64 internal constant LIFETIME = 30 days;
    uint256 internal constant CONSUMER_TOKENS = 1e30;

    address internal admin = makeAddr("admin");
    address internal attestor = makeAddr("attestor");
    address internal provider = makeAddr("provider");
    address internal consumer = makeAddr("consumer");
    address internal stranger = makeAddr("stranger");
    address internal meter = vm.addr(METER_KEY);
    /// @dev The meter's registration: every class at 2^48 − 1.
    uint48[5] internal registered = [type(uint48).max, type(uint48).max, type(uint48).max, type(uint48).max, type(uint48).max];
    /// @dev The capacity `_open` gives a job.
    uint48[5] internal capacity = [uint48(1), 64, 1e12, 1e7, 1 << 40];

    ResourceToken internal token;
    Settlement internal settlement;
    Groth16Verifier internal verifier;
    MockVerifier internal mock;
    Groth16Verifier internal workVerifier;

    function setUp() public virtual {
        vm.warp(START);
        token = new ResourceToken(admin, "");
        settlement = new Settlement(token, admin);
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0, 5);
        verifier = new Groth16Verifier(a, b, g, d, ic);
        mock = new MockVerifier();
        (a, b, g, d, ic) = Trapdoor.vk(WORK_IC0, 4);
        workVerifier = new Groth16Verifier(a, b, g, d, ic);

        vm.startPrank(admin);
        token.grantRole(token.MINTER_ROLE(), address(settlement));
        token.grantRole(token.MINTER_ROLE(), admin);
        settlement.grantRole(settlement.ATTESTOR_ROLE(), attestor);
        settlement.setCircuit(REAL, verifier);
        settlement.setCircuit(MOCK, mock);
        settlement.setWorkCircuit(WORK, workVerifier);
        uint256[] memory ids = new uint256[](5);
        uint256[] memory amounts = new uint256[](5);
        for (uint256 c; c < 5; ++c) {
            (ids[c], amounts[c]) = (c, CONSUMER_TOKENS);
        }
        token.mintBatch(consumer, ids, amounts, "");
        vm.stopPrank();

        _register(provider, METER_KEY, registered);
        vm.prank(consumer);
        token.setApprovalForAll(address(settlement), true);
    }

    // ------------------------------------------------------------ meters

    /// @dev `key`'s EIP-712 signature of MeterRegistration(vm.addr(key), provider_).
    function _registrationSig(uint256 key, address provider_) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(key, settlement.registrationDigest(vm.addr(key), provider_));
        return abi.encodePacked(r, sig, v);
    }

    /// @dev `provider_` registers the meter of `key` with `cap`, signed by the meter.
    function _register(address provider_, uint256 key, uint48[5] memory cap) internal {
        bytes memory sig = _registrationSig(key, provider_);
        vm.prank(provider_);
        settlement.registerMeter(vm.addr(key), cap, sig);
    }

    // ------------------------------------------------------------ jobs

    function _each(uint128 amount) internal pure returns (uint128[5] memory e) {
        for (uint256 c; c < 5; ++c) {
            e[c] = amount;
        }
    }

    /// @dev A job of `capacity` with the fixture's meter, open for LIFETIME.
    function _open(uint128[5] memory escrow) internal returns (uint64 jobId) {
        return _openWith(capacity, escrow);
    }

    function _openWith(uint48[5] memory cap, uint128[5] memory escrow) internal returns (uint64 jobId) {
        vm.prank(consumer);
        jobId = settlement.openJob(meter, cap, uint64(block.timestamp) + LIFETIME, escrow);
    }

    function _state(uint64 jobId) internal view returns (Settlement.StreamState memory) {
        return settlement.jobInfo(jobId).state;
    }

    function _escrowOf(uint64 jobId) internal view returns (uint128[5] memory) {
        return settlement.jobInfo(jobId).escrow;
    }

    // ------------------------------------------------------------ statements

    /// @dev The epoch after the job's stored state: `count` records, a minute each. The
    ///      clock moves on to the epoch's end if it is not there yet, so it can settle.
    function _statement(uint64 jobId, uint64 count, uint64[5] memory totals)
        internal
        returns (Settlement.MeterStatement memory s)
    {
        s.jobId = jobId;
        s.prev = _state(jobId);
        s.next.head = uint256(keccak256(abi.encode("head", jobId, s.prev.seq))) % R;
        s.next.seq = s.prev.seq + count;
        s.next.endMs = s.prev.endMs + 60_000 * count;
        s.totals = totals;
        _reach(s.next.endMs);
    }

    /// @dev Moves the clock to `ms` (rounded up to a second) unless it is there already.
    function _reach(uint256 ms) internal {
        uint256 at = (ms + 999) / 1000;
        if (block.timestamp < at) vm.warp(at);
    }

    /// @dev `key`'s signature over the new state of the job's stream (meter, jobId).
    function _sign(uint256 key, Settlement.MeterStatement memory s) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 sig) = vm.sign(key, settlement.stateDigest(meter, s.jobId, s.next));
        return abi.encodePacked(r, sig, v);
    }

    /// @dev The public inputs against the job's capacity (x5 = 0).
    function _inputs(Settlement.MeterStatement memory s) internal view returns (uint256[6] memory) {
        return _inputs(s, settlement.jobInfo(s.jobId).capacity);
    }

    /// @dev The public inputs against capacity `cap`, packed here independently of the
    ///      contract (sums of products rather than shifts and ors; the lane offsets of the
    ///      spec, [0, 44, 88, 152, 204]).
    function _inputs(Settlement.MeterStatement memory s, uint48[5] memory cap)
        internal
        pure
        returns (uint256[6] memory x)
    {
        uint256 two64 = 2 ** 64;
        uint256[5] memory offsets = [uint256(0), 44, 88, 152, 204];
        x[0] = s.prev.head;
        x[1] = s.next.head;
        x[2] = s.prev.seq + s.prev.endMs * two64 + s.next.endMs * two64 ** 2 + (s.next.seq - s.prev.seq) * two64 ** 3;
        for (uint256 c; c < 5; ++c) {
            x[3] += s.totals[c] * 2 ** offsets[c];
            x[4] += cap[c] * 2 ** (48 * c);
        }
    }

    function _prove(Settlement.MeterStatement memory s, uint256 c) internal view returns (uint256[8] memory) {
        return Trapdoor.prove(IC0, _inputs(s), c);
    }

    /// @dev Expects the `Settled` event of `s` proven with `circuit`, paying `burned` and
    ///      `minted` per class: x2, x3 of the statement and burned | minted << 128.
    function _expectSettled(
        Settlement.MeterStatement memory s,
        bytes32 circuit,
        uint256[5] memory burned,
        uint256[5] memory minted
    ) internal {
        uint256[6] memory x = _inputs(s);
        uint256[5] memory paid;
        for (uint256 c; c < 5; ++c) {
            paid[c] = burned[c] + minted[c] * 2 ** 128;
        }
        vm.expectEmit(address(settlement));
        emit Settlement.Settled(s.jobId, circuit, provider, s.next.head, x[2], x[3], paid);
    }

    function _settle(Settlement.MeterStatement memory s) internal {
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(METER_KEY, s);
        settlement.settle(REAL, s, proof, sig);
    }

    // ------------------------------------------------------------ work

    /// @dev Work for `jobId` on a model and input named by `seed`.
    function _workStatement(uint64 jobId, uint256 seed, uint64 workUnits)
        internal
        pure
        returns (Settlement.WorkStatement memory s)
    {
        s.jobId = jobId;
        s.model = uint256(keccak256(abi.encode("model", seed))) % R;
        s.input = uint256(keccak256(abi.encode("input", seed))) % R;
        s.output = uint256(keccak256(abi.encode("output", seed))) % R;
        s.workUnits = workUnits;
    }

    /// @dev The workload circuit's public inputs, packed here independently of the contract.
    function _workInputs(Settlement.WorkStatement memory s) internal pure returns (uint256[6] memory x) {
        x[0] = s.model;
        x[1] = s.input;
        x[2] = s.output;
        x[3] = uint256(s.jobId) + uint256(s.workUnits) * 2 ** 64;
    }

    function _proveWork(Settlement.WorkStatement memory s, uint256 c) internal view returns (uint256[8] memory) {
        return Trapdoor.prove(WORK_IC0, _workInputs(s), c);
    }

    function _requestWork(Settlement.WorkStatement memory s) internal {
        vm.prank(consumer);
        settlement.requestWork(s.jobId, WORK, s.model, s.input);
    }
}
