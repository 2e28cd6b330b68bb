// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {VmSafe} from "forge-std/Vm.sol";

import {Groth16Verifier} from "../src/Groth16Verifier.sol";
import {IGroth16Verifier} from "../src/IGroth16Verifier.sol";
import {ResourceToken} from "../src/ResourceToken.sol";
import {Settlement} from "../src/Settlement.sol";
import {SettlementFixture} from "./helpers/SettlementFixture.sol";
import {Trapdoor} from "./helpers/Trapdoor.sol";

contract SettlementTest is SettlementFixture {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    // ================================================================ deployment

    function test_constructorSetsDefaultsAndRoles() public view {
        assertEq(address(settlement.token()), address(token));
        assertTrue(settlement.hasRole(settlement.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(settlement.hasRole(settlement.GOVERNANCE_ROLE(), admin));
        for (uint256 c; c < 5; ++c) {
            (uint128 amount, uint128 per) = settlement.tariff(c);
            assertEq(amount, 1);
            assertEq(per, 1);
        }
        assertEq(settlement.settlementGrace(), 1 days);
        assertEq(settlement.clockSkewMs(), 300_000);
        assertEq(settlement.DEFAULT_CLOCK_SKEW_MS(), 300_000);
        assertEq(settlement.protocolFeeBps(), 0);
        assertFalse(settlement.attestationRequired());
        assertEq(settlement.jobCount(), 0);
        assertEq(
            settlement.STREAM_STATE_TYPEHASH(),
            keccak256("StreamState(address meter,uint64 jobId,uint256 head,uint64 seq,uint64 endMs)")
        );
        assertEq(
            settlement.METER_REGISTRATION_TYPEHASH(), keccak256("MeterRegistration(address meter,address provider)")
        );
        assertEq(settlement.GENESIS_TAG(), "zkmeter.stream.v2");
    }

    /// @dev EIP-170: a chain refuses to deploy more than 24 576 bytes of runtime code,
    ///      and forge's test EVM does not enforce it.
    function test_deployableContractsFitTheCodeSizeLimit() public view {
        assertLe(address(settlement).code.length, 24_576, "Settlement");
        assertLe(address(token).code.length, 24_576, "ResourceToken");
        assertLe(address(verifier).code.length, 24_576, "Groth16Verifier");
    }

    function test_constructorRefusesZeroAddresses() public {
        vm.expectRevert(Settlement.ZeroAddress.selector);
        new Settlement(ResourceToken(address(0)), admin);
        vm.expectRevert(Settlement.ZeroAddress.selector);
        new Settlement(token, address(0));
    }

    function test_eip712Domain() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            settlement.eip712Domain();
        assertEq(name, "zkmeter");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(settlement));
    }

    function test_stateDigestIsEip712() public view {
        Settlement.StreamState memory st = Settlement.StreamState(123, 4, 5);
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("zkmeter"),
                keccak256("1"),
                block.chainid,
                address(settlement)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("StreamState(address meter,uint64 jobId,uint256 head,uint64 seq,uint64 endMs)"),
                meter,
                uint64(9),
                uint256(123),
                uint64(4),
                uint64(5)
            )
        );
        assertEq(settlement.stateDigest(meter, 9, st), keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
    }

    function test_registrationDigestIsEip712() public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("zkmeter"),
                keccak256("1"),
                block.chainid,
                address(settlement)
            )
        );
        bytes32 structHash =
            keccak256(abi.encode(keccak256("MeterRegistration(address meter,address provider)"), meter, provider));
        assertEq(
            settlement.registrationDigest(meter, provider), keccak256(abi.encodePacked("\x19\x01", domain, structHash))
        );
    }

    function test_genesisHeadFollowsTheSpec() public view {
        uint256 expected = uint256(keccak256(abi.encodePacked("zkmeter.stream.v2", meter, bytes8(uint64(7))))) % R;
        assertEq(settlement.genesisHead(meter, 7), expected);
        assertTrue(settlement.genesisHead(meter, 7) != settlement.genesisHead(meter, 8));
        assertTrue(settlement.genesisHead(meter, 7) != settlement.genesisHead(provider, 7));
    }

    function test_supportsItsInterfaces() public view {
        assertTrue(settlement.supportsInterface(type(IERC1155Receiver).interfaceId));
        assertTrue(settlement.supportsInterface(type(IAccessControl).interfaceId));
        assertFalse(settlement.supportsInterface(0xdeadbeef));
    }

    // ================================================================ meters

    function test_registerMeterStoresCapacity() public {
        uint256 key = 0x3E7E2;
        address m2 = vm.addr(key);
        uint48[5] memory cap = [uint48(3), 0, 7, (1 << 48) - 1, 1];
        vm.expectEmit(address(settlement));
        emit Settlement.MeterRegistered(m2, provider, cap);
        _register(provider, key, cap);
        (address p, bool approved, uint48[5] memory got, uint48[5] memory committed) = settlement.meterInfo(m2);
        assertEq(p, provider);
        assertFalse(approved);
        for (uint256 c; c < 5; ++c) {
            assertEq(got[c], cap[c]);
            assertEq(committed[c], 0);
        }
    }

    function test_reRegisteringChangesCapacityAndClearsApproval() public {
        vm.prank(attestor);
        settlement.approveMeter(meter);
        (, bool approved,,) = settlement.meterInfo(meter);
        assertTrue(approved);
        uint48[5] memory cap = [uint48(9), 9, 9, 9, 9];
        _register(provider, METER_KEY, cap);
        uint48[5] memory got;
        (, approved, got,) = settlement.meterInfo(meter);
        assertFalse(approved);
        assertEq(got[3], 9);
    }

    function test_reRegisteringNeedsTheSignatureAgain() public {
        // The provider's own key does not do: the meter's must sign.
        (uint8 v, bytes32 r, bytes32 sv) = vm.sign(0xB0B, settlement.registrationDigest(meter, provider));
        bytes memory sig = abi.encodePacked(r, sv, v);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongRegistrationSignature.selector, vm.addr(0xB0B), meter));
        vm.prank(provider);
        settlement.registerMeter(meter, capacity, sig);
    }

    function test_meterBelongsToItsFirstProvider() public {
        // Even with the meter's own signature for the newcomer.
        bytes memory sig = _registrationSig(METER_KEY, stranger);
        vm.expectRevert(abi.encodeWithSelector(Settlement.MeterOwnedByOther.selector, meter, provider));
        vm.prank(stranger);
        settlement.registerMeter(meter, capacity, sig);
    }

    function test_registerMeterRefusesZero() public {
        vm.expectRevert(Settlement.ZeroAddress.selector);
        vm.prank(provider);
        settlement.registerMeter(address(0), capacity, "");
    }

    function test_capacityIsNotLoweredBelowOpenJobs() public {
        uint64 a = _open(_each(0));
        _openWith([uint48(2), 0, 0, 0, 5], _each(0));
        // Open jobs hold 3 GPU, 64 CPU, 1e12 storage, 1e7 network, 2^40 + 5 energy units per ms.
        uint48[5] memory lower = [uint48(3), 64, 1e12, 1e7, (1 << 40) + 5];
        _register(provider, METER_KEY, lower);
        lower[4] -= 1;
        bytes memory sig = _registrationSig(METER_KEY, provider);
        vm.expectRevert(abi.encodeWithSelector(Settlement.CapacityBelowOpenJobs.selector, 4, lower[4], lower[4] + 1));
        vm.prank(provider);
        settlement.registerMeter(meter, lower, sig);
        // Once a job closes its capacity is free to go.
        vm.prank(provider);
        settlement.closeJob(a);
        lower = [uint48(2), 0, 0, 0, 5];
        _register(provider, METER_KEY, lower);
        (,, uint48[5] memory got, uint48[5] memory committed) = settlement.meterInfo(meter);
        for (uint256 c; c < 5; ++c) {
            assertEq(got[c], lower[c]);
            assertEq(committed[c], lower[c]);
        }
    }

    function test_attestorApprovesAndRevokes() public {
        vm.expectEmit(address(settlement));
        emit Settlement.MeterApproved(meter, attestor);
        vm.prank(attestor);
        settlement.approveMeter(meter);
        vm.expectEmit(address(settlement));
        emit Settlement.MeterRevoked(meter, attestor);
        vm.prank(attestor);
        settlement.revokeMeter(meter);
        (, bool approved,,) = settlement.meterInfo(meter);
        assertFalse(approved);
    }

    function test_onlyAttestorsApprove() public {
        bytes memory denied = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, provider, settlement.ATTESTOR_ROLE()
        );
        vm.startPrank(provider);
        vm.expectRevert(denied);
        settlement.approveMeter(meter);
        vm.expectRevert(denied);
        settlement.revokeMeter(meter);
        vm.stopPrank();
    }

    function test_approvingNeedsARegisteredMeter() public {
        vm.startPrank(attestor);
        vm.expectRevert(abi.encodeWithSelector(Settlement.MeterNotRegistered.selector, stranger));
        settlement.approveMeter(stranger);
        vm.expectRevert(abi.encodeWithSelector(Settlement.MeterNotRegistered.selector, stranger));
        settlement.revokeMeter(stranger);
        vm.stopPrank();
    }

    // ================================================================ governance

    function test_governanceSetsCircuits() public {
        bytes32 id = keccak256("other");
        vm.expectEmit(address(settlement));
        emit Settlement.CircuitSet(id, address(verifier));
        vm.prank(admin);
        settlement.setCircuit(id, verifier);
        assertEq(address(settlement.verifiers(id)), address(verifier));
        vm.prank(admin);
        settlement.setCircuit(id, IGroth16Verifier(address(0)));
        assertEq(address(settlement.verifiers(id)), address(0));
    }

    function test_setCircuitRefusesAccountsWithoutCode() public {
        vm.expectRevert(abi.encodeWithSelector(Settlement.NotAContract.selector, stranger));
        vm.prank(admin);
        settlement.setCircuit(keccak256("x"), IGroth16Verifier(stranger));
    }

    function test_setCircuitRefusesContractsThatAreNotVerifiers() public {
        vm.expectRevert(abi.encodeWithSelector(Settlement.NotAVerifier.selector, address(token)));
        vm.prank(admin);
        settlement.setCircuit(keccak256("x"), IGroth16Verifier(address(token)));
    }

    function test_setCircuitNeedsFiveInputs() public {
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0, 6);
        Groth16Verifier v1 = new Groth16Verifier(a, b, g, d, ic);
        vm.startPrank(admin);
        // A v1 meter verifier (six inputs) and a workload verifier (four) are refused.
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongPublicInputCount.selector, 5, 6));
        settlement.setCircuit(keccak256("v1"), v1);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongPublicInputCount.selector, 5, 4));
        settlement.setCircuit(keccak256("work"), workVerifier);
        vm.stopPrank();
        for (uint256 k = 1; k <= 6; ++k) {
            mock.setInputCount(k);
            if (k != 5) vm.expectRevert(abi.encodeWithSelector(Settlement.WrongPublicInputCount.selector, 5, k));
            vm.prank(admin);
            settlement.setCircuit(keccak256("mock"), mock);
        }
        assertEq(address(settlement.verifiers(keccak256("v1"))), address(0));
        assertEq(address(settlement.verifiers(keccak256("mock"))), address(mock));
    }

    function test_governanceSetsTariffs() public {
        vm.expectEmit(address(settlement));
        emit Settlement.TariffSet(2, 3, 1000);
        vm.prank(admin);
        settlement.setTariff(2, 3, 1000);
        (uint128 amount, uint128 per) = settlement.tariff(2);
        assertEq(amount, 3);
        assertEq(per, 1000);
    }

    function test_setTariffRefusesBadInput() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownClass.selector, 5));
        settlement.setTariff(5, 1, 1);
        vm.expectRevert(Settlement.ZeroTariffDenominator.selector);
        settlement.setTariff(0, 1, 0);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownClass.selector, 5));
        settlement.tariff(5);
    }

    function test_governanceSetsFeeGraceAndAttestation() public {
        vm.startPrank(admin);
        vm.expectEmit(address(settlement));
        emit Settlement.ProtocolFeeSet(1000);
        settlement.setProtocolFee(1000);
        vm.expectEmit(address(settlement));
        emit Settlement.SettlementGraceSet(3600);
        settlement.setSettlementGrace(3600);
        vm.expectEmit(address(settlement));
        emit Settlement.AttestationRequirementSet(true);
        settlement.setAttestationRequired(true);
        vm.expectRevert(abi.encodeWithSelector(Settlement.ProtocolFeeTooHigh.selector, 1001));
        settlement.setProtocolFee(1001);
        vm.stopPrank();
        assertEq(settlement.protocolFeeBps(), 1000);
        assertEq(settlement.settlementGrace(), 3600);
        assertTrue(settlement.attestationRequired());
    }

    function test_onlyGovernanceGoverns() public {
        bytes memory denied = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, settlement.GOVERNANCE_ROLE()
        );
        vm.startPrank(stranger);
        vm.expectRevert(denied);
        settlement.setCircuit(keccak256("x"), verifier);
        vm.expectRevert(denied);
        settlement.setTariff(0, 1, 1);
        vm.expectRevert(denied);
        settlement.setProtocolFee(1);
        vm.expectRevert(denied);
        settlement.setSettlementGrace(1);
        vm.expectRevert(denied);
        settlement.setAttestationRequired(true);
        vm.expectRevert(denied);
        settlement.setClockSkew(1);
        vm.stopPrank();
    }

    function test_governanceSetsTheClockSkew() public {
        vm.startPrank(admin);
        vm.expectEmit(address(settlement));
        emit Settlement.ClockSkewSet(3_600_000);
        settlement.setClockSkew(3_600_000);
        assertEq(settlement.clockSkewMs(), 3_600_000);
        vm.expectRevert(abi.encodeWithSelector(Settlement.ClockSkewTooLarge.selector, 3_600_001, 3_600_000));
        settlement.setClockSkew(3_600_001);
        settlement.setClockSkew(0);
        vm.stopPrank();
        assertEq(settlement.clockSkewMs(), 0);
    }

    function test_theClockSkewBoundsEpochEnds() public {
        uint64 jobId = _open(_each(100));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint64 nowMs = uint64(block.timestamp) * 1000;
        s.next.endMs = nowMs + 300_001;
        bytes memory sig = _sign(METER_KEY, s);
        uint256[8] memory proof = _prove(s, 1);
        vm.expectRevert(
            abi.encodeWithSelector(Settlement.EpochEndsAfterNow.selector, s.next.endMs, uint256(nowMs) + 300_000)
        );
        settlement.settle(REAL, s, proof, sig);
        // A larger skew lets it through; the default's exact edge goes through too.
        vm.prank(admin);
        settlement.setClockSkew(300_001);
        uint256 snapshot = vm.snapshotState();
        settlement.settle(REAL, s, proof, sig);
        vm.revertToState(snapshot);
        vm.prank(admin);
        settlement.setClockSkew(0);
        s.next.endMs = nowMs;
        sig = _sign(METER_KEY, s);
        settlement.settle(REAL, s, _prove(s, 1), sig);
        assertEq(_state(jobId).endMs, nowMs);
    }

    // ================================================================ jobs

    function test_openJobEscrowsAndStartsTheStream() public {
        uint128[5] memory escrow = [uint128(10), 0, 30, 0, 50];
        uint64 expiresAt = uint64(block.timestamp) + LIFETIME;
        uint64 startMs = uint64(block.timestamp) * 1000;
        vm.expectEmit(address(settlement));
        emit Settlement.JobOpened(
            1, consumer, provider, meter, capacity, expiresAt, escrow, settlement.genesisHead(meter, 1), startMs
        );
        vm.prank(consumer);
        uint64 jobId = settlement.openJob(meter, capacity, expiresAt, escrow);
        assertEq(jobId, 1);
        assertEq(settlement.jobCount(), 1);

        Settlement.JobView memory j = settlement.jobInfo(jobId);
        assertEq(j.consumer, consumer);
        assertEq(j.provider, provider);
        assertEq(j.meter, meter);
        for (uint256 c; c < 5; ++c) {
            assertEq(j.capacity[c], capacity[c]);
        }
        assertEq(j.expiresAt, expiresAt);
        assertEq(uint8(j.status), uint8(Settlement.JobStatus.Open));
        assertEq(j.state.head, settlement.genesisHead(meter, 1));
        assertEq(j.state.seq, 0);
        assertEq(j.state.endMs, START * 1000, "the stream starts when the job opens");
        (,,, uint48[5] memory committed) = settlement.meterInfo(meter);
        assertEq(committed[2], capacity[2]);
        for (uint256 c; c < 5; ++c) {
            assertEq(j.escrow[c], escrow[c]);
            assertEq(token.balanceOf(address(settlement), c), escrow[c]);
            assertEq(token.balanceOf(consumer, c), CONSUMER_TOKENS - escrow[c]);
        }
        assertEq(_open(_each(1)), 2);
    }

    function test_openJobWithoutEscrowMovesNothing() public {
        uint64 jobId = _open(_each(0));
        assertEq(settlement.jobInfo(jobId).escrow[0], 0);
        assertEq(token.balanceOf(address(settlement), 0), 0);
    }

    function test_openJobNeedsARegisteredMeter() public {
        vm.expectRevert(abi.encodeWithSelector(Settlement.MeterNotRegistered.selector, stranger));
        vm.prank(consumer);
        settlement.openJob(stranger, capacity, uint64(block.timestamp + 1), _each(1));
    }

    function test_openJobNeedsAnApprovedMeterWhenRequired() public {
        vm.prank(admin);
        settlement.setAttestationRequired(true);
        vm.expectRevert(abi.encodeWithSelector(Settlement.MeterNotApproved.selector, meter));
        _open(_each(1));
        vm.prank(attestor);
        settlement.approveMeter(meter);
        assertEq(_open(_each(1)), 1);
    }

    function test_openJobNeedsAFutureExpiry() public {
        vm.expectRevert(abi.encodeWithSelector(Settlement.ExpiryInPast.selector, uint64(block.timestamp)));
        vm.prank(consumer);
        settlement.openJob(meter, capacity, uint64(block.timestamp), _each(1));
    }

    function test_openJobNeedsTheConsumersApproval() public {
        vm.prank(consumer);
        token.setApprovalForAll(address(settlement), false);
        vm.expectRevert();
        _open(_each(1));
    }

    function test_anyoneFundsALiveJob() public {
        uint64 jobId = _open(_each(5));
        vm.prank(admin);
        token.mint(stranger, 3, 100, "");
        vm.startPrank(stranger);
        token.setApprovalForAll(address(settlement), true);
        uint128[5] memory amounts = [uint128(0), 0, 0, 100, 0];
        vm.expectEmit(address(settlement));
        emit Settlement.JobFunded(jobId, stranger, amounts);
        settlement.fundJob(jobId, amounts);
        vm.stopPrank();
        assertEq(_escrowOf(jobId)[3], 105);
        assertEq(_escrowOf(jobId)[2], 5);
        assertEq(token.balanceOf(address(settlement), 3), 105);
    }

    function test_fundJobRefusesEscrowsBeyond128Bits() public {
        uint64 jobId = _open(_each(0));
        vm.prank(admin);
        token.mint(consumer, 1, type(uint256).max - CONSUMER_TOKENS, "");
        vm.startPrank(consumer);
        settlement.fundJob(jobId, [uint128(0), type(uint128).max, 0, 0, 0]);
        vm.expectRevert(abi.encodeWithSelector(Settlement.EscrowTooLarge.selector, 1));
        settlement.fundJob(jobId, [uint128(0), 1, 0, 0, 0]);
        vm.stopPrank();
    }

    function test_fundJobNeedsALiveJob() public {
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotOpen.selector, 1));
        vm.prank(consumer);
        settlement.fundJob(1, _each(1));

        uint64 jobId = _open(_each(1));
        uint256 deadline = block.timestamp + LIFETIME + 1 days;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobExpired.selector, jobId, deadline));
        vm.prank(consumer);
        settlement.fundJob(jobId, _each(1));
    }

    function test_consumerMovesTheExpiry() public {
        uint64 jobId = _open(_each(1));
        uint64 later = uint64(block.timestamp) + 90 days;
        vm.expectEmit(address(settlement));
        emit Settlement.JobExpirySet(jobId, later);
        vm.prank(consumer);
        settlement.setJobExpiry(jobId, later);
        assertEq(settlement.jobInfo(jobId).expiresAt, later);

        vm.prank(consumer);
        settlement.setJobExpiry(jobId, uint64(block.timestamp));
        assertEq(settlement.jobInfo(jobId).expiresAt, block.timestamp);
    }

    function test_setJobExpiryRules() public {
        uint64 jobId = _open(_each(1));
        vm.expectRevert(abi.encodeWithSelector(Settlement.NotConsumer.selector, jobId));
        vm.prank(provider);
        settlement.setJobExpiry(jobId, uint64(block.timestamp + 1));

        vm.expectRevert(abi.encodeWithSelector(Settlement.ExpiryInPast.selector, uint64(block.timestamp - 1)));
        vm.prank(consumer);
        settlement.setJobExpiry(jobId, uint64(block.timestamp - 1));

        uint256 deadline = block.timestamp + LIFETIME + 1 days;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobExpired.selector, jobId, deadline));
        vm.prank(consumer);
        settlement.setJobExpiry(jobId, uint64(block.timestamp + 1));
    }

    function test_closingGivesTheCapacityBack() public {
        uint64 jobId = _open(_each(1));
        (,,, uint48[5] memory committed) = settlement.meterInfo(meter);
        assertEq(committed[1], 64);
        vm.prank(provider);
        settlement.closeJob(jobId);
        (,,, committed) = settlement.meterInfo(meter);
        for (uint256 c; c < 5; ++c) {
            assertEq(committed[c], 0);
        }
        // The closed job keeps its capacity on record.
        assertEq(settlement.jobInfo(jobId).capacity[1], 64);
    }

    function test_openJobTakesAtMostWhatTheMeterHasLeft() public {
        _register(provider, METER_KEY, [uint48(10), 10, 10, 10, 10]);
        _openWith([uint48(4), 10, 0, 0, 0], _each(0));
        vm.expectRevert(abi.encodeWithSelector(Settlement.CapacityUnavailable.selector, 0, 7, 6));
        _openWith([uint48(7), 0, 0, 0, 0], _each(0));
        vm.expectRevert(abi.encodeWithSelector(Settlement.CapacityUnavailable.selector, 1, 1, 0));
        _openWith([uint48(6), 1, 0, 0, 0], _each(0));
        _openWith([uint48(6), 0, 10, 10, 10], _each(0));
        (,,, uint48[5] memory committed) = settlement.meterInfo(meter);
        assertEq(keccak256(abi.encode(committed)), keccak256(abi.encode([uint48(10), 10, 10, 10, 10])));
    }

    function test_providerClosesAnytimeAndTheConsumerGetsTheRest() public {
        uint64 jobId = _open([uint128(10), 20, 0, 0, 40]);
        uint128[5] memory refund = [uint128(10), 20, 0, 0, 40];
        vm.expectEmit(address(settlement));
        emit Settlement.JobClosed(jobId, provider, refund);
        vm.prank(provider);
        settlement.closeJob(jobId);
        Settlement.JobView memory j = settlement.jobInfo(jobId);
        assertEq(uint8(j.status), uint8(Settlement.JobStatus.Closed));
        for (uint256 c; c < 5; ++c) {
            assertEq(j.escrow[c], 0);
            assertEq(token.balanceOf(consumer, c), CONSUMER_TOKENS);
            assertEq(token.balanceOf(address(settlement), c), 0);
        }
    }

    function test_othersCloseOnlyAfterTheGrace() public {
        uint64 jobId = _open(_each(7));
        uint256 deadline = block.timestamp + LIFETIME + 1 days;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotExpired.selector, jobId, deadline));
        vm.prank(consumer);
        settlement.closeJob(jobId);
        vm.warp(deadline + 1);
        vm.prank(stranger);
        settlement.closeJob(jobId);
        assertEq(token.balanceOf(consumer, 4), CONSUMER_TOKENS);
    }

    function test_closeJobNeedsAnOpenJob() public {
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotOpen.selector, 1));
        settlement.closeJob(1);
        uint64 jobId = _open(_each(1));
        vm.prank(provider);
        settlement.closeJob(jobId);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotOpen.selector, jobId));
        vm.prank(provider);
        settlement.closeJob(jobId);
    }

    function test_closingAnEmptyJobMovesNothing() public {
        uint64 jobId = _open(_each(0));
        vm.prank(provider);
        settlement.closeJob(jobId);
        assertEq(uint8(settlement.jobInfo(jobId).status), uint8(Settlement.JobStatus.Closed));
    }

    function test_refusesTokensItDidNotPull() public {
        vm.startPrank(consumer);
        vm.expectRevert(Settlement.UnexpectedTokens.selector);
        token.safeTransferFrom(consumer, address(settlement), 0, 1, "");
        uint256[] memory ids = new uint256[](2);
        uint256[] memory values = new uint256[](2);
        (ids[1], values[0], values[1]) = (1, 1, 1);
        vm.expectRevert(Settlement.UnexpectedTokens.selector);
        token.safeBatchTransferFrom(consumer, address(settlement), ids, values, "");
        vm.stopPrank();
        // Only the token contract can call the hooks, and only for pulls by the settlement.
        vm.expectRevert(Settlement.UnexpectedTokens.selector);
        settlement.onERC1155Received(address(settlement), consumer, 0, 1, "");
        vm.expectRevert(Settlement.UnexpectedTokens.selector);
        settlement.onERC1155BatchReceived(address(settlement), consumer, ids, values, "");
    }

    // ================================================================ settlement: success

    function test_settlesAnEpoch() public {
        uint64 jobId = _open(_each(1_000_000));
        uint64[5] memory totals = [uint64(100), 2000, 0, 0, 40];
        Settlement.MeterStatement memory s = _statement(jobId, 3, totals);
        uint256[5] memory paid = [uint256(100), 2000, 0, 0, 40];

        _expectSettled(s, REAL, paid, paid);
        _settle(s);

        Settlement.StreamState memory st = _state(jobId);
        assertEq(st.head, s.next.head);
        assertEq(st.seq, 3);
        assertEq(st.endMs, START * 1000 + 180_000);
        for (uint256 c; c < 5; ++c) {
            assertEq(_escrowOf(jobId)[c], 1_000_000 - paid[c]);
            assertEq(token.balanceOf(provider, c), paid[c]);
            assertEq(token.balanceOf(address(settlement), c), 1_000_000 - paid[c]);
        }
    }

    function test_settlesConsecutiveEpochs() public {
        uint64 jobId = _open(_each(1_000_000));
        for (uint64 e = 1; e <= 4; ++e) {
            _settle(_statement(jobId, e, [uint64(e), 0, 0, 0, 0]));
        }
        assertEq(_state(jobId).seq, 10);
        assertEq(token.balanceOf(provider, 0), 10);
    }

    function test_settlesWithinTheGraceOnly() public {
        uint64 jobId = _open(_each(1000));
        uint256 deadline = block.timestamp + LIFETIME + 1 days;
        vm.warp(deadline);
        _settle(_statement(jobId, 1, [uint64(1), 0, 0, 0, 0]));
        vm.warp(deadline + 1);
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobExpired.selector, jobId, deadline));
        settlement.settle(REAL, s, proof, sig);
    }

    function test_appliesTariffAndBurnsTheFee() public {
        vm.startPrank(admin);
        settlement.setTariff(0, 3, 1000); // 3 tokens per GPU-second
        settlement.setTariff(3, 0, 1); // network is free
        settlement.setProtocolFee(250); // 2.5 %
        vm.stopPrank();
        uint64 jobId = _open(_each(1_000_000));
        uint64[5] memory totals = [uint64(3_600_999), 0, 0, 12345, 1000];
        Settlement.MeterStatement memory s = _statement(jobId, 1, totals);
        // gpu: floor(3 600 999 * 3 / 1000) = 10 802; fee floor(10 802 * 0.025) = 270
        // energy: 1000, fee 25
        uint256[5] memory burned = [uint256(10_802), 0, 0, 0, 1000];
        uint256[5] memory minted = [uint256(10_532), 0, 0, 0, 975];
        _expectSettled(s, REAL, burned, minted);
        _settle(s);
        assertEq(token.balanceOf(provider, 0), 10_532);
        assertEq(token.balanceOf(provider, 3), 0);
        assertEq(token.balanceOf(provider, 4), 975);
        assertEq(_escrowOf(jobId)[0], 1_000_000 - 10_802);
        assertEq(_escrowOf(jobId)[3], 1_000_000);
        assertEq(token.balanceOf(address(settlement), 0), 1_000_000 - 10_802);
    }

    function test_billBeyondTheEscrowPaysWhatThereIsAndMovesOn() public {
        uint64 jobId = _open([uint128(50), 0, 10, 0, 0]);
        uint64[5] memory totals = [uint64(80), 5, 10, 0, 0];
        Settlement.MeterStatement memory s = _statement(jobId, 2, totals);
        uint256[5] memory paid = [uint256(50), 0, 10, 0, 0];
        uint256[5] memory unpaid = [uint256(30), 5, 0, 0, 0];
        _expectSettled(s, REAL, paid, paid);
        vm.expectEmit(address(settlement));
        emit Settlement.EscrowShortfall(jobId, unpaid);
        _settle(s);
        assertEq(_state(jobId).seq, 2);
        assertEq(_escrowOf(jobId)[0], 0);
        assertEq(token.balanceOf(provider, 0), 50);
        assertEq(token.balanceOf(provider, 1), 0);
        assertEq(token.balanceOf(provider, 2), 10);

        // The stream goes on; with an empty escrow the next epoch is all shortfall.
        _settle(_statement(jobId, 1, [uint64(1), 0, 0, 0, 0]));
        assertEq(_state(jobId).seq, 3);
        assertEq(token.balanceOf(provider, 0), 50);
    }

    function test_anEpochWithoutUsageMovesOnlyTheStream() public {
        uint64 jobId = _open(_each(100));
        vm.recordLogs();
        _settle(_statement(jobId, 1, [uint64(0), 0, 0, 0, 0]));
        assertEq(vm.getRecordedLogs().length, 1, "only Settled, no token events");
        assertEq(_state(jobId).seq, 1);
    }

    function test_settlesWithApprovedMeterWhenRequired() public {
        uint64 jobId = _open(_each(100));
        vm.prank(admin);
        settlement.setAttestationRequired(true);
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint256[8] memory proof = _prove(s, 1);
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(abi.encodeWithSelector(Settlement.MeterNotApproved.selector, meter));
        settlement.settle(REAL, s, proof, sig);
        vm.prank(attestor);
        settlement.approveMeter(meter);
        settlement.settle(REAL, s, proof, sig);
        assertEq(_state(jobId).seq, 1);
    }

    function test_publicInputsMatchTheDocumentedPacking() public {
        uint48[5] memory cap = [uint48(1), 2, 3, 4, type(uint48).max];
        uint64 jobId = _openWith(cap, _each(100));
        uint64 max = type(uint64).max;
        Settlement.MeterStatement memory s;
        s.jobId = jobId;
        s.prev = Settlement.StreamState(R - 1, max - 5, 1000);
        s.next = Settlement.StreamState(12, max - 2, max);
        // Every total at the top of its lane.
        s.totals = [uint64(2 ** 44 - 1), 2 ** 44 - 1, max, 2 ** 52 - 1, 2 ** 48 - 1];
        uint256[5] memory x = settlement.publicInputs(s);
        uint256[6] memory expected = _inputs(s, cap);
        for (uint256 i; i < 5; ++i) {
            assertEq(x[i], expected[i]);
        }
        assertEq(x[2] >> 192, 3);
        assertEq(uint64(x[2] >> 128), max);
        assertEq(x[3], 2 ** 252 - 1, "the five lanes fill 252 bits");
        assertEq(x[3] >> 204, 2 ** 48 - 1, "energy");
        assertEq(uint64(x[3] >> 88), max, "storage");
        assertEq(x[4] & ((1 << 48) - 1), 1);
        assertEq(x[4] >> 192, type(uint48).max);
        // The job's capacity, not the meter's registration.
        assertEq(x[4], uint256(1) | 2 << 48 | 3 << 96 | 4 << 144 | uint256(type(uint48).max) << 192);
    }

    function test_refusesTotalsWiderThanTheirLanes() public {
        uint64 jobId = _open(_each(100));
        uint8[4] memory classes = [0, 1, 3, 4];
        uint64[4] memory tooWide = [uint64(2 ** 44), 2 ** 44, 2 ** 52, 2 ** 48];
        for (uint256 i; i < 4; ++i) {
            uint64[5] memory totals;
            totals[classes[i]] = tooWide[i];
            Settlement.MeterStatement memory s = _statement(jobId, 1, totals);
            bytes memory sig = _sign(METER_KEY, s);
            bytes memory refused = abi.encodeWithSelector(Settlement.TotalTooLarge.selector, classes[i], tooWide[i]);
            vm.expectRevert(refused);
            settlement.publicInputs(s);
            // Even a verifier that says yes never sees it.
            vm.expectRevert(refused);
            settlement.settle(MOCK, s, [uint256(0), 0, 0, 0, 0, 0, 0, 0], sig);
            // One less fits.
            s.totals[classes[i]] = tooWide[i] - 1;
            settlement.publicInputs(s);
        }
    }

    /// @dev The attack the lane check stops: with x3 = Σ total_c << O_c and no width check,
    ///      a gpu total of 2^44 packs like a cpu total of 1, so a proof of one bill would
    ///      settle the other.
    function test_aWideTotalWouldAliasTheNextLane() public {
        uint64 jobId = _open(_each(1e18));
        Settlement.MeterStatement memory honest = _statement(jobId, 1, [uint64(0), 1, 0, 0, 0]);
        uint256[8] memory proof = _prove(honest, 1);
        Settlement.MeterStatement memory forged = _statement(jobId, 1, [uint64(2 ** 44), 0, 0, 0, 0]);
        forged.next = honest.next;
        assertEq(_inputs(forged)[3], _inputs(honest)[3], "the packings collide");
        bytes memory sig = _sign(METER_KEY, forged);
        vm.expectRevert(abi.encodeWithSelector(Settlement.TotalTooLarge.selector, 0, 2 ** 44));
        settlement.settle(REAL, forged, proof, sig);
        settlement.settle(REAL, honest, proof, _sign(METER_KEY, honest));
        assertEq(token.balanceOf(provider, 1), 1);
    }

    function test_settledEventPacksTheEpoch() public {
        vm.prank(admin);
        settlement.setProtocolFee(1000);
        uint64 jobId = _open(_each(1e20));
        _settle(_statement(jobId, 2, [uint64(1), 0, 0, 0, 0]));
        Settlement.MeterStatement memory s =
            _statement(jobId, 5, [uint64(2 ** 44 - 1), 7, type(uint64).max, 2 ** 52 - 1, 9]);
        vm.recordLogs();
        _settle(s);
        VmSafe.Log[] memory logs = vm.getRecordedLogs();
        VmSafe.Log memory settled = logs[logs.length - 1];
        assertEq(settled.topics[0], Settlement.Settled.selector);
        assertEq(uint256(settled.topics[1]), jobId);
        assertEq(settled.topics[2], REAL);
        assertEq(address(uint160(uint256(settled.topics[3]))), provider);
        (uint256 head, uint256 epoch, uint256 totals, uint256[5] memory paid) =
            abi.decode(settled.data, (uint256, uint256, uint256, uint256[5]));
        assertEq(head, s.next.head);
        uint256 word = 2 ** 64 - 1;
        assertEq(epoch & word, s.prev.seq, "prev.seq");
        assertEq((epoch >> 64) & word, s.prev.endMs, "prev.endMs");
        assertEq((epoch >> 128) & word, s.next.endMs, "next.endMs");
        assertEq(epoch >> 192, 5, "records");
        uint256[5] memory offsets = [uint256(0), 44, 88, 152, 204];
        uint256[5] memory widths = [uint256(44), 44, 64, 52, 48];
        for (uint256 c; c < 5; ++c) {
            assertEq((totals >> offsets[c]) & (2 ** widths[c] - 1), s.totals[c], "total");
            uint256 burned = uint128(paid[c]);
            assertEq(burned, s.totals[c], "burned");
            assertEq(paid[c] >> 128, burned - burned / 10, "minted");
        }
    }

    function test_publicInputsNeedAJob() public {
        Settlement.MeterStatement memory s;
        s.jobId = 9;
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownJob.selector, 9));
        settlement.publicInputs(s);
    }

    // ================================================================ settlement: refusals

    function _ready() internal returns (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) {
        uint64 jobId = _open(_each(1000));
        s = _statement(jobId, 2, [uint64(5), 0, 0, 0, 0]);
        proof = _prove(s, 1);
        sig = _sign(METER_KEY, s);
    }

    function test_refusesUnknownCircuits() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        bytes32 id = keccak256("nope");
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownCircuit.selector, id));
        settlement.settle(id, s, proof, sig);
    }

    function test_refusesJobsThatAreNotOpen() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        vm.prank(provider);
        settlement.closeJob(s.jobId);
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotOpen.selector, s.jobId));
        settlement.settle(REAL, s, proof, sig);
        s.jobId = 77;
        vm.expectRevert(abi.encodeWithSelector(Settlement.JobNotOpen.selector, 77));
        settlement.settle(REAL, s, proof, sig);
    }

    function test_refusesAStatementThatDoesNotContinueTheStoredState() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        Settlement.StreamState memory stored = s.prev;
        bytes memory stale =
            abi.encodeWithSelector(Settlement.StaleState.selector, stored.head, stored.seq, stored.endMs);

        s.prev.head = stored.head + 1;
        vm.expectRevert(stale);
        settlement.settle(REAL, s, proof, sig);
        s.prev.head = stored.head;
        s.prev.seq = 1;
        vm.expectRevert(stale);
        settlement.settle(REAL, s, proof, sig);
        s.prev.seq = 0;
        s.prev.endMs = 1;
        vm.expectRevert(stale);
        settlement.settle(REAL, s, proof, sig);
    }

    function test_refusesBadRecordCounts() public {
        uint64 jobId = _open(_each(1000));
        _settle(_statement(jobId, 5, [uint64(1), 0, 0, 0, 0]));
        Settlement.MeterStatement memory s = _statement(jobId, 1, [uint64(1), 0, 0, 0, 0]);
        uint64[3] memory bad = [uint64(5), 4, 5 + (1 << 32)];
        for (uint256 i; i < 3; ++i) {
            s.next.seq = bad[i];
            bytes memory sig = _sign(METER_KEY, s);
            vm.expectRevert(abi.encodeWithSelector(Settlement.BadRecordCount.selector, 5, bad[i]));
            settlement.settle(MOCK, s, [uint256(0), 0, 0, 0, 0, 0, 0, 0], sig);
        }
        s.next.seq = 5 + (1 << 32) - 1;
        settlement.settle(MOCK, s, [uint256(0), 0, 0, 0, 0, 0, 0, 0], _sign(METER_KEY, s));
    }

    function test_refusesSignaturesByOtherKeys() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof,) = _ready();
        bytes memory sig = _sign(0xB0B, s);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongMeterSignature.selector, vm.addr(0xB0B), meter));
        settlement.settle(REAL, s, proof, sig);
    }

    function test_refusesSignaturesOverAnotherState() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        s.next.endMs += 1;
        vm.expectRevert();
        settlement.settle(REAL, s, proof, sig);
        s.next.endMs -= 1;
        settlement.settle(REAL, s, proof, sig);
    }

    function test_refusesHighSSignatures() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof,) = _ready();
        (uint8 v, bytes32 r, bytes32 sLow) = vm.sign(METER_KEY, settlement.stateDigest(meter, s.jobId, s.next));
        bytes32 sHigh = bytes32(SECP256K1_N - uint256(sLow));
        bytes memory malleated = abi.encodePacked(r, sHigh, v == 27 ? uint8(28) : uint8(27));
        // The malleated signature recovers the same key, and is still refused.
        assertEq(ecrecover(settlement.stateDigest(meter, s.jobId, s.next), v == 27 ? 28 : 27, r, sHigh), meter);
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureS.selector, sHigh));
        settlement.settle(REAL, s, proof, malleated);
    }

    function test_refusesSignaturesOfTheWrongLength() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        bytes memory short = new bytes(64);
        for (uint256 i; i < 64; ++i) {
            short[i] = sig[i];
        }
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureLength.selector, 64));
        settlement.settle(REAL, s, proof, short);
    }

    function test_refusesInvalidProofs() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        mock.setAnswer(false);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settle(MOCK, s, proof, sig);
        // A proof of other totals.
        s.totals[0] += 1;
        sig = _sign(METER_KEY, s);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settle(REAL, s, proof, sig);
    }

    function test_refusesAProofForAnotherCircuit() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        (uint256[2] memory a, uint256[4] memory b, uint256[4] memory g, uint256[4] memory d, uint256[2][] memory ic) =
            Trapdoor.vk(IC0 + 1000, 5);
        Groth16Verifier other = new Groth16Verifier(a, b, g, d, ic);
        bytes32 otherId = keccak256("zkmeter.meter.v2/other");
        vm.prank(admin);
        settlement.setCircuit(otherId, other);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settle(otherId, s, proof, sig);
        settlement.settle(REAL, s, proof, sig);
    }

    function test_refusesAHeadNotInTheField() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof,) = _ready();
        s.next.head += R;
        bytes memory sig = _sign(METER_KEY, s);
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.InputNotInField.selector, 1));
        settlement.settle(REAL, s, proof, sig);
    }

    function test_refusesReplays() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        settlement.settle(REAL, s, proof, sig);
        Settlement.StreamState memory now_ = s.next;
        bytes memory stale = abi.encodeWithSelector(Settlement.StaleState.selector, now_.head, now_.seq, now_.endMs);
        vm.expectRevert(stale);
        settlement.settle(REAL, s, proof, sig);
    }

    function test_refusesReRandomisedProofsOfASettledStatement() public {
        (Settlement.MeterStatement memory s, uint256[8] memory proof, bytes memory sig) = _ready();
        uint256[8] memory negated = Trapdoor.negate(proof);
        uint256[8] memory other = _prove(s, 99);
        uint256[6] memory x = _inputs(s);
        assertTrue(verifier.verifyProof(negated, x));
        assertTrue(verifier.verifyProof(other, x));

        settlement.settle(REAL, s, proof, sig);
        bytes memory stale =
            abi.encodeWithSelector(Settlement.StaleState.selector, s.next.head, s.next.seq, s.next.endMs);
        vm.expectRevert(stale);
        settlement.settle(REAL, s, negated, sig);
        vm.expectRevert(stale);
        settlement.settle(REAL, s, other, sig);
    }

    // ================================================================ batches

    function _batchOf(Settlement.MeterStatement[] memory ss)
        internal
        view
        returns (uint256[8][] memory proofs, bytes[] memory sigs)
    {
        proofs = new uint256[8][](ss.length);
        sigs = new bytes[](ss.length);
        for (uint256 i; i < ss.length; ++i) {
            proofs[i] = _prove(ss[i], 100 + i);
            sigs[i] = _sign(METER_KEY, ss[i]);
        }
    }

    /// @dev Epochs of two jobs, the first job's two in a row.
    function _threeEpochs() internal returns (Settlement.MeterStatement[] memory ss) {
        uint64 a = _open(_each(1000));
        uint64 b = _open(_each(1000));
        ss = new Settlement.MeterStatement[](3);
        ss[0] = _statement(a, 2, [uint64(10), 0, 0, 0, 1]);
        ss[1] = _statement(b, 1, [uint64(0), 7, 0, 0, 0]);
        ss[2] = _statement(a, 3, [uint64(5), 0, 0, 3, 0]);
        ss[2].prev = ss[0].next;
        ss[2].next.seq = ss[0].next.seq + 3;
        ss[2].next.endMs = ss[0].next.endMs + 1;
        ss[2].next.head = 42;
    }

    function test_settleBatchSettlesEpochsOfSeveralJobs() public {
        Settlement.MeterStatement[] memory ss = _threeEpochs();
        (uint256[8][] memory proofs, bytes[] memory sigs) = _batchOf(ss);
        _expectSettled(ss[0], REAL, [uint256(10), 0, 0, 0, 1], [uint256(10), 0, 0, 0, 1]);
        assertEq(settlement.settleBatch(REAL, ss, proofs, sigs), 3);
        assertEq(_state(ss[0].jobId).seq, 5);
        assertEq(_state(ss[0].jobId).head, 42);
        assertEq(_state(ss[1].jobId).seq, 1);
        assertEq(token.balanceOf(provider, 0), 15);
        assertEq(token.balanceOf(provider, 1), 7);
        assertEq(token.balanceOf(provider, 3), 3);
        assertEq(_escrowOf(ss[0].jobId)[0], 985);
    }

    function test_settleBatchIsAllOrNothing() public {
        Settlement.MeterStatement[] memory ss = _threeEpochs();
        (uint256[8][] memory proofs, bytes[] memory sigs) = _batchOf(ss);
        proofs[1] = _prove(ss[2], 1);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settleBatch(REAL, ss, proofs, sigs);
        assertEq(_state(ss[0].jobId).seq, 0);
        assertEq(token.balanceOf(provider, 0), 0);
    }

    function test_settleBatchSettlesAnEpochOnce() public {
        Settlement.MeterStatement[] memory ss = _threeEpochs();
        ss[2] = ss[0];
        (uint256[8][] memory proofs, bytes[] memory sigs) = _batchOf(ss);
        // The second copy finds its job already at its seq: skipped, not paid twice.
        vm.expectEmit(address(settlement));
        emit Settlement.EpochSkipped(ss[0].jobId, ss[0].next.seq);
        assertEq(settlement.settleBatch(REAL, ss, proofs, sigs), 2);
        assertEq(_state(ss[0].jobId).seq, 2);
        assertEq(token.balanceOf(provider, 0), 10);
    }

    function test_settleBatchSkipsEpochsAlreadySettled() public {
        Settlement.MeterStatement[] memory ss = _threeEpochs();
        (uint256[8][] memory proofs, bytes[] memory sigs) = _batchOf(ss);
        // Every epoch settled first, one by one: the batch settles nothing, and does not revert.
        for (uint256 i; i < 3; ++i) {
            settlement.settle(REAL, ss[i], proofs[i], sigs[i]);
        }
        vm.recordLogs();
        assertEq(settlement.settleBatch(REAL, ss, proofs, sigs), 0);
        VmSafe.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 3, "three EpochSkipped, nothing else");
        for (uint256 i; i < 3; ++i) {
            assertEq(logs[i].topics[0], Settlement.EpochSkipped.selector);
        }
        assertEq(token.balanceOf(provider, 0), 15);
    }

    function test_settleBatchChecksTheEpochsItSettles() public {
        Settlement.MeterStatement[] memory ss = _threeEpochs();
        (uint256[8][] memory proofs, bytes[] memory sigs) = _batchOf(ss);
        settlement.settle(REAL, ss[0], proofs[0], sigs[0]);
        // A skipped epoch's proof is not checked; the others' are.
        proofs[0] = _prove(ss[1], 5);
        proofs[1] = _prove(ss[2], 5);
        vm.expectRevert(Settlement.InvalidProof.selector);
        settlement.settleBatch(REAL, ss, proofs, sigs);
        (proofs,) = _batchOf(ss);
        proofs[0] = [uint256(1), 2, 3, 4, 5, 6, 7, 8];
        assertEq(settlement.settleBatch(REAL, ss, proofs, sigs), 2);
        assertEq(_state(ss[0].jobId).head, 42);
    }

    function test_settleBatchRefusesOutOfOrderEpochs() public {
        Settlement.MeterStatement[] memory ss = _threeEpochs();
        (ss[0], ss[2]) = (ss[2], ss[0]);
        (uint256[8][] memory proofs, bytes[] memory sigs) = _batchOf(ss);
        Settlement.StreamState memory genesis = ss[2].prev;
        vm.expectRevert(
            abi.encodeWithSelector(Settlement.StaleState.selector, genesis.head, genesis.seq, genesis.endMs)
        );
        settlement.settleBatch(REAL, ss, proofs, sigs);
    }

    function test_settleBatchChecksEverySignature() public {
        Settlement.MeterStatement[] memory ss = _threeEpochs();
        (uint256[8][] memory proofs, bytes[] memory sigs) = _batchOf(ss);
        sigs[2] = _sign(0xB0B, ss[2]);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongMeterSignature.selector, vm.addr(0xB0B), meter));
        settlement.settleBatch(REAL, ss, proofs, sigs);
    }

    function test_settleBatchRefusesBadShapes() public {
        Settlement.MeterStatement[] memory ss = _threeEpochs();
        (uint256[8][] memory proofs, bytes[] memory sigs) = _batchOf(ss);
        vm.expectRevert(Settlement.BatchLength.selector);
        settlement.settleBatch(REAL, new Settlement.MeterStatement[](0), new uint256[8][](0), new bytes[](0));
        vm.expectRevert(Settlement.BatchLength.selector);
        settlement.settleBatch(REAL, ss, new uint256[8][](2), sigs);
        vm.expectRevert(Settlement.BatchLength.selector);
        settlement.settleBatch(REAL, ss, proofs, new bytes[](4));
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownCircuit.selector, bytes32(0)));
        settlement.settleBatch(bytes32(0), ss, proofs, sigs);
    }
}
