// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {ResourceToken} from "./ResourceToken.sol";

/// @title Settlement
/// @notice Turns proven meter readings, and proven work, into resource-token payments.
///
///  - Providers register meters (an Ethereum address whose key signs the meter's stream
///    states) with a capacity per resource class. The meter's key signs the registration
///    (EIP-712 `MeterRegistration(meter, provider)`), so nobody registers a meter without
///    holding its key, nor replays a provider's registration as their own. Governance can
///    require an attestor to approve each meter before it is used.
///  - A consumer opens a job with a registered meter, naming the job's capacity per class
///    and escrowing resource tokens. The job's stream (meter, jobId) starts at
///    (genesis head, seq 0, the opening time in ms).
///  - `settle` moves a stream forward by one epoch: it checks the meter's EIP-712 signature
///    over the new state, that the statement continues the stored state and ends neither
///    after the current time (plus `clockSkewMs`) nor after the job's expiry, verifies the
///    Groth16 proof with the circuit's registered verifier against the JOB's capacity,
///    stores the new state, then burns the consumer's escrowed tokens at the tariff and
///    mints the provider's (less a protocol fee, which is burned), in one token call.
///    Anyone may submit a settlement: the proof and the signature are the authority, not
///    the sender. `settleBatch` settles several epochs with one batched pairing check
///    (n + 3 pairings for n proofs instead of 4n), skipping epochs someone settled first.
///  - Unused escrow goes back to the consumer when the job is closed, and the job's
///    capacity back to the meter.
///  - Workload proofs bill verified work instead of metered time: governance registers
///    workload circuits (`setWorkCircuit`, a registry of their own: a meter circuit cannot
///    settle work, nor a workload circuit an epoch). The consumer of a live job asks for a
///    piece of work, named by circuit, model commitment and input commitment
///    (`requestWork`); then anyone may settle it (`settleWork`) with a proof that this
///    model applied to this input gives some output, for this job, in `workUnits`
///    multiply-accumulates. The proof is the authority: no meter signs work, and meter
///    attestation does not apply.
///
/// Replay protection keys on the statement: a proof only settles against the stored
/// state it continues, so neither the same proof nor a re-randomised one (Groth16 proofs
/// are malleable) can settle an epoch twice. A piece of work is keyed by
/// keccak256(abi.encode(jobId, circuitId, model, input)) and settles once: the second
/// proof of it, re-randomised or not, finds it `Settled`.
///
/// Nothing bills more than capacity × real elapsed time (+ the clock skew):
///  - the circuit checks, per epoch and class, total ≤ cap × (next.endMs − prev.endMs),
///    with cap the job's capacity, fixed at opening (x4 is read from the job, never from
///    the meter's current registration);
///  - epochs chain: each continues the stored state, and the stream starts at the job's
///    opening time, so a job's epochs cover [opening, last endMs] once, and the totals
///    add up to at most cap × (last endMs − opening);
///  - no epoch ends after block.timestamp·1000 + clockSkewMs, nor after expiresAt·1000;
///  - the sum rule: per class, the capacities of a meter's open jobs add up to at most
///    its registered capacity. A job is opened with at most the registration minus what
///    the meter's other open jobs hold, a registration is never lowered below what they
///    hold, and closing a job gives its capacity back. So one meter's jobs together bill
///    at most its registered capacity × real time, plus the skew at each job's end.
///
/// Rules decided here:
///  - Bill larger than the escrow: the epoch still settles (the proof shows the usage
///    happened, and a stream that could not move on would block every later epoch). Each
///    class pays what its escrow holds, and `EscrowShortfall` records the unpaid rest.
///    Providers watch the escrow and stop serving jobs that run dry.
///  - Tariffs are read when an epoch settles: a governance change applies to every epoch
///    settled after it. A class's bill is floor(total · amount / per).
///  - Protocol fee: floor(paid · protocolFeeBps / 10 000) of each class is burned instead of
///    minted to the provider; at most MAX_PROTOCOL_FEE_BPS.
///  - Expiry: a job can be settled until `expiresAt + settlementGrace` (the grace lets the
///    provider prove its last epoch), for epochs ending by `expiresAt`. The provider may
///    close a job at any time; after the grace anyone may, and the rest of the escrow goes
///    back to the consumer either way. The consumer can move `expiresAt` (not into the
///    past) while the job is live.
///  - Meters belong to the provider that registered them first, for good. Re-registering
///    (a new capacity) needs the meter's signature again and clears the attestor's
///    approval.
///  - Work is paid in one class (`workTariff`, default GPU at 1 token base unit per
///    multiply-accumulate): bill = floor(workUnits · amount / per), read at settlement.
///    The escrow cap, `EscrowShortfall` and the protocol fee apply as to an epoch.
///  - Only the consumer requests work: otherwise a provider could bill any escrow for
///    work nobody asked for. A request is for one input and settles once; the provider
///    may settle it until the job's deadline, like an epoch.
///  - The work units are what the proof's circuit counts for its shape (the verifying
///    key fixes the shape), so the consumer chooses the price of a request by choosing
///    the circuit.
contract Settlement is AccessControl, EIP712, IERC1155Receiver {
    /// @notice Registers circuits, sets tariffs, the protocol fee, the settlement grace and
    ///         whether meters need an attestor's approval.
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");
    /// @notice Approves and revokes meters.
    bytes32 public constant ATTESTOR_ROLE = keccak256("ATTESTOR_ROLE");

    /// @notice EIP-712 type of what a meter signs: its stream's new state.
    bytes32 public constant STREAM_STATE_TYPEHASH =
        keccak256("StreamState(address meter,uint64 jobId,uint256 head,uint64 seq,uint64 endMs)");
    /// @notice EIP-712 type of what a meter signs to be registered: the provider it serves.
    bytes32 public constant METER_REGISTRATION_TYPEHASH = keccak256("MeterRegistration(address meter,address provider)");
    /// @notice Domain tag of genesis heads (the circuits crate uses the same bytes).
    string public constant GENESIS_TAG = "zkmeter.stream.v2";

    /// @notice Number of resource classes (0 gpu, 1 cpu, 2 storage, 3 network, 4 energy).
    uint256 public constant CLASSES = 5;
    /// @notice Public inputs of a meter circuit (x0..x4); `setCircuit` refuses other verifiers.
    uint256 public constant METER_PUBLIC_INPUTS = 5;
    /// @notice Public inputs of a workload circuit (x0..x3); `setWorkCircuit` refuses others.
    uint256 public constant WORK_PUBLIC_INPUTS = 4;
    /// @notice Highest protocol fee governance can set, in basis points (10 %).
    uint256 public constant MAX_PROTOCOL_FEE_BPS = 1_000;
    /// @notice Grace period a new deployment starts with, in seconds.
    uint64 public constant DEFAULT_SETTLEMENT_GRACE = 1 days;
    /// @notice How far past the block's time an epoch may end, in ms, on a new deployment:
    ///         a meter's clock and block timestamps disagree by some seconds.
    uint64 public constant DEFAULT_CLOCK_SKEW_MS = 300_000;
    /// @notice Highest clock skew governance can set, in ms (one hour): the skew is time a
    ///         meter can bill ahead of the chain.
    uint64 public constant MAX_CLOCK_SKEW_MS = 3_600_000;

    /// @dev BN254 scalar field modulus.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev An epoch has fewer than 2^32 records (the statement packs its count in 32 bits).
    uint256 internal constant RECORD_COUNT_LIMIT = 1 << 32;
    /// @dev Lanes of x3 (the totals): class c's total takes bits [O_c, O_c + W_c), with
    ///      W = [44, 44, 64, 52, 48] and O = [0, 44, 88, 152, 204] (the circuit's lanes).
    uint256 internal constant CPU_OFFSET = 44;
    uint256 internal constant STORAGE_OFFSET = 88;
    uint256 internal constant NETWORK_OFFSET = 152;
    uint256 internal constant ENERGY_OFFSET = 204;
    uint256 internal constant GPU_BITS = 44;
    uint256 internal constant CPU_BITS = 44;
    uint256 internal constant STORAGE_BITS = 64;
    uint256 internal constant NETWORK_BITS = 52;
    uint256 internal constant ENERGY_BITS = 48;
    /// @dev Capacities are packed as x4: cap[c] << 48c, each part 48 bits.
    uint256 internal constant CAPACITY_BITS = 48;
    uint256 internal constant CAPACITY_MASK = (1 << 48) - 1;

    /// @notice Where a stream stands: the head of its hash chain, the seq of its last
    ///         record, the end of its last record (Unix ms).
    struct StreamState {
        uint256 head;
        uint64 seq;
        uint64 endMs;
    }

    /// @notice One epoch of one stream, as proven: the stream (meter, jobId) moved from
    ///         `prev` to `next` through `next.seq − prev.seq` records whose quantities add
    ///         up to `totals` (per class, in the class's base unit; class c must fit in
    ///         W_c = [44, 44, 64, 52, 48] bits). The capacities the proof is checked against
    ///         are the job's, fixed when it was opened, never the caller's.
    struct MeterStatement {
        uint64 jobId;
        StreamState prev;
        StreamState next;
        uint64[5] totals;
    }

    /// @notice A class's price: `amount` token base units per `per` quantity units.
    struct Tariff {
        uint128 amount;
        uint128 per;
    }

    /// @notice One piece of work, as proven: for job `jobId`, the model committed to as
    ///         `model` applied to the input committed to as `input` gives the output
    ///         committed to as `output`, in `workUnits` multiply-accumulates.
    struct WorkStatement {
        uint64 jobId;
        uint256 model;
        uint256 input;
        uint256 output;
        uint64 workUnits;
    }

    /// @notice Lifecycle of a piece of work.
    enum WorkStatus {
        None,
        Requested,
        Settled
    }

    /// @notice Lifecycle of a job.
    enum JobStatus {
        None,
        Open,
        Closed
    }

    /// @notice A job as `jobInfo` returns it.
    struct JobView {
        address consumer;
        address provider;
        address meter;
        uint48[5] capacity;
        uint64 expiresAt;
        JobStatus status;
        StreamState state;
        uint128[5] escrow;
    }

    /// @dev A registered meter. Slot 0 is all a settlement reads. `capacity` (the
    ///      registration) and `committed` (the sum of the capacities of the meter's open
    ///      jobs, at most `capacity` in every part: the sum rule) are packed as x4,
    ///      cap[c] << 48c; a sum of parts that each stay below 2^48 never carries.
    struct Meter {
        address provider;
        bool approved;
        uint240 capacity;
        uint240 committed;
    }

    /// @dev Slots 0–3 are what a settlement reads, slots 0 and 1 what it writes. seq and
    ///      endMs share slot 0 with fields set at opening, so no settlement turns a zero
    ///      slot non-zero. `capacity` is the job's, packed as x4.
    struct Job {
        uint64 seq;
        uint64 endMs;
        uint64 expiresAt;
        JobStatus status;
        uint256 head;
        uint240 capacity;
        address meter;
        address consumer;
        uint128[5] escrow;
    }

    /// @notice The resource tokens escrowed, burned and minted.
    ResourceToken public immutable token;

    /// @notice Circuit registry: the verifier of each circuit id (zero: not registered).
    mapping(bytes32 circuitId => IGroth16Verifier verifier) public verifiers;

    /// @notice Workload circuit registry: the verifier of each circuit id (zero: not
    ///         registered). Kept apart from `verifiers`, so neither kind of circuit can
    ///         stand in for the other.
    mapping(bytes32 circuitId => IGroth16Verifier verifier) public workVerifiers;

    mapping(address meter => Meter) private _meters;
    mapping(uint64 jobId => Job) private _jobs;
    Tariff[CLASSES] private _tariffs;
    mapping(bytes32 workKey => WorkStatus) private _work;
    Tariff private _workTariff;

    /// @notice Number of jobs opened so far; job ids are 1 ..= jobCount.
    uint64 public jobCount;
    /// @notice Seconds after a job's expiry during which it can still be settled.
    uint64 public settlementGrace;
    /// @notice How far past the block's time (in ms) a settled epoch may end.
    uint64 public clockSkewMs;
    /// @notice Share of each payment burned as protocol fee, in basis points.
    uint16 public protocolFeeBps;
    /// @notice Whether meters need an attestor's approval to open and settle jobs.
    bool public attestationRequired;
    /// @dev The class work is paid in; shares the slot above, which settling work reads anyway.
    uint8 private _workClass;

    /// @notice `provider` registered `meter` (or changed its capacity) with `capacity`, with
    ///         the meter's signature.
    event MeterRegistered(address indexed meter, address indexed provider, uint48[5] capacity);
    /// @notice `attestor` approved `meter`.
    event MeterApproved(address indexed meter, address indexed attestor);
    /// @notice `attestor` withdrew its approval of `meter`.
    event MeterRevoked(address indexed meter, address indexed attestor);
    /// @notice Meters now do (or do not) need an attestor's approval.
    event AttestationRequirementSet(bool required);
    /// @notice Circuit `circuitId` is now verified by `verifier` (zero: removed).
    event CircuitSet(bytes32 indexed circuitId, address verifier);
    /// @notice Class `class` now costs `amount` token base units per `per` quantity units.
    event TariffSet(uint256 indexed class, uint128 amount, uint128 per);
    /// @notice The protocol fee is now `bps` basis points.
    event ProtocolFeeSet(uint256 bps);
    /// @notice The settlement grace is now `grace` seconds.
    event SettlementGraceSet(uint64 grace);
    /// @notice Epochs may now end up to `skewMs` ms past the block's time.
    event ClockSkewSet(uint64 skewMs);
    /// @notice `consumer` opened job `jobId` with `provider`'s `meter` and `capacity` (per
    ///         class, units per ms), escrowing `escrow`; its stream starts at
    ///         (`genesisHead`, 0, `startMs`), `startMs` the opening block's time in ms.
    event JobOpened(
        uint64 indexed jobId,
        address indexed consumer,
        address indexed provider,
        address meter,
        uint48[5] capacity,
        uint64 expiresAt,
        uint128[5] escrow,
        uint256 genesisHead,
        uint64 startMs
    );
    /// @notice `funder` added `amounts` to the escrow of job `jobId`.
    event JobFunded(uint64 indexed jobId, address indexed funder, uint128[5] amounts);
    /// @notice Job `jobId` now expires at `expiresAt` (Unix seconds).
    event JobExpirySet(uint64 indexed jobId, uint64 expiresAt);
    /// @notice `closedBy` closed job `jobId`; `refund` went back to the consumer.
    event JobClosed(uint64 indexed jobId, address indexed closedBy, uint128[5] refund);
    /// @notice Job `jobId`'s stream moved through one epoch proven with circuit
    ///         `circuitId`; `provider` was paid. The fields are packed as the proof's public
    ///         inputs are, so an event costs a third of what it would unpacked:
    ///         `head` is the new head (x1);
    ///         `epoch` is x2 = prev.seq | prev.endMs << 64 | next.endMs << 128 | n << 192,
    ///         with n = next.seq − prev.seq the number of records;
    ///         `totals` is x3, the usage: class c's total in bits [O_c, O_c + W_c),
    ///         O = [0, 44, 88, 152, 204], W = [44, 44, 64, 52, 48];
    ///         `paid[c]` is burned | minted << 128: `burned` tokens of class c left the
    ///         escrow, `minted` went to the provider (burned − minted is the protocol fee).
    event Settled(
        uint64 indexed jobId,
        bytes32 indexed circuitId,
        address indexed provider,
        uint256 head,
        uint256 epoch,
        uint256 totals,
        uint256[5] paid
    );
    /// @notice `settleBatch` skipped an epoch of job `jobId` ending at record `seq`: the
    ///         job's stream had already reached it (someone settled it first).
    event EpochSkipped(uint64 indexed jobId, uint64 seq);
    /// @notice The escrow of job `jobId` did not cover the epoch or work just settled:
    ///         `unpaid` per class was billed but not paid.
    event EscrowShortfall(uint64 indexed jobId, uint256[5] unpaid);
    /// @notice Workload circuit `circuitId` is now verified by `verifier` (zero: removed).
    event WorkCircuitSet(bytes32 indexed circuitId, address verifier);
    /// @notice Work now costs `amount` base units of class `class` per `per` work units.
    event WorkTariffSet(uint256 indexed class, uint128 amount, uint128 per);
    /// @notice The consumer of job `jobId` asked for `model` to be run on `input` with
    ///         workload circuit `circuitId`.
    event WorkRequested(uint64 indexed jobId, bytes32 indexed circuitId, uint256 model, uint256 input);
    /// @notice `provider` was paid for running `model` on `input` in job `jobId`, proven
    ///         with workload circuit `circuitId` to give `output` in `workUnits`
    ///         multiply-accumulates: `burned` tokens of the work class left the escrow,
    ///         `minted` went to the provider (the difference is the protocol fee).
    event WorkSettled(
        uint64 indexed jobId,
        bytes32 indexed circuitId,
        address indexed provider,
        uint256 model,
        uint256 input,
        uint256 output,
        uint64 workUnits,
        uint256 burned,
        uint256 minted
    );

    /// @notice An address that must be set is zero.
    error ZeroAddress();
    /// @notice No verifier is registered for `circuitId`.
    error UnknownCircuit(bytes32 circuitId);
    /// @notice `account` has no code, so it cannot be a verifier.
    error NotAContract(address account);
    /// @notice `class` is not a resource class.
    error UnknownClass(uint256 class);
    /// @notice A tariff's `per` must be at least 1.
    error ZeroTariffDenominator();
    /// @notice `bps` is above MAX_PROTOCOL_FEE_BPS.
    error ProtocolFeeTooHigh(uint256 bps);
    /// @notice `account` does not answer PUBLIC_INPUTS(), so it is not a Groth16 verifier.
    error NotAVerifier(address account);
    /// @notice The verifier is for a circuit with `found` public inputs; this registry
    ///         takes circuits with `expected` (5 for meter circuits, 4 for workload ones).
    error WrongPublicInputCount(uint256 expected, uint256 found);
    /// @notice `skewMs` is above MAX_CLOCK_SKEW_MS, `maxMs`.
    error ClockSkewTooLarge(uint256 skewMs, uint256 maxMs);
    /// @notice `meter` is registered by `provider`, not by the caller.
    error MeterOwnedByOther(address meter, address provider);
    /// @notice The registration signature recovers to `signer`, not to `meter`: not signed
    ///         by the meter's key, or signed for another provider, chain or contract.
    error WrongRegistrationSignature(address signer, address meter);
    /// @notice The new registration gives class `class` a capacity of `capacity`, below the
    ///         `committed` its open jobs hold (close some first).
    error CapacityBelowOpenJobs(uint256 class, uint256 capacity, uint256 committed);
    /// @notice The job asks `requested` of class `class`; the meter has only `available`
    ///         left (its registration minus the capacities of its other open jobs).
    error CapacityUnavailable(uint256 class, uint256 requested, uint256 available);
    /// @notice `meter` is not registered.
    error MeterNotRegistered(address meter);
    /// @notice `meter` needs an attestor's approval and does not have it.
    error MeterNotApproved(address meter);
    /// @notice `expiresAt` is not after the current block's timestamp.
    error ExpiryInPast(uint64 expiresAt);
    /// @notice Job `jobId` does not exist.
    error UnknownJob(uint64 jobId);
    /// @notice Job `jobId` is not open (never opened, or closed).
    error JobNotOpen(uint64 jobId);
    /// @notice Job `jobId` could only be settled or changed until `deadline`.
    error JobExpired(uint64 jobId, uint256 deadline);
    /// @notice Only the provider may close job `jobId` before `closableAfter`.
    error JobNotExpired(uint64 jobId, uint256 closableAfter);
    /// @notice Only the consumer of job `jobId` may do this.
    error NotConsumer(uint64 jobId);
    /// @notice The escrow of class `class` would not fit in 128 bits.
    error EscrowTooLarge(uint256 class);
    /// @notice The statement does not continue the stored state, which is
    ///         (`head`, `seq`, `endMs`): the epoch was settled already, or never led here.
    error StaleState(uint256 head, uint64 seq, uint64 endMs);
    /// @notice `next.seq − prev.seq` must be between 1 and 2^32 − 1.
    error BadRecordCount(uint64 prevSeq, uint64 nextSeq);
    /// @notice Class `class`'s total `total` does not fit its lane of x3 (2^W_c, W =
    ///         [44, 44, 64, 52, 48]): packed, it would spill into the next class's lane.
    error TotalTooLarge(uint256 class, uint256 total);
    /// @notice The epoch ends at `endMs`, after `latestMs`: the block's time plus the
    ///         clock skew, in ms. A meter cannot bill time that has not passed.
    error EpochEndsAfterNow(uint64 endMs, uint256 latestMs);
    /// @notice The epoch ends at `endMs`, after the job's expiry, `expiryMs` (in ms).
    error EpochEndsAfterExpiry(uint64 endMs, uint256 expiryMs);
    /// @notice The signature over the new state recovers to `signer`, not to the job's `meter`.
    error WrongMeterSignature(address signer, address meter);
    /// @notice A batch needs at least one epoch, and one proof and one signature per epoch.
    error BatchLength();
    /// @notice The verifier rejected the proof.
    error InvalidProof();
    /// @notice This contract only takes tokens it pulls itself into a job's escrow.
    error UnexpectedTokens();
    /// @notice No verifier is registered for workload circuit `circuitId`.
    error UnknownWorkCircuit(bytes32 circuitId);
    /// @notice A commitment (model, input or output) is not below the scalar field modulus r.
    error CommitmentNotInField(uint256 commitment);
    /// @notice This work was requested already (and is not settled yet).
    error WorkAlreadyRequested(uint64 jobId, bytes32 circuitId, uint256 model, uint256 input);
    /// @notice The job's consumer never requested this work.
    error WorkNotRequested(uint64 jobId, bytes32 circuitId, uint256 model, uint256 input);
    /// @notice This work was settled already: a replayed or re-randomised proof of it.
    error WorkAlreadySettled(uint64 jobId, bytes32 circuitId, uint256 model, uint256 input);

    /// @notice Deploys the settlement contract. It must then be given ResourceToken's
    ///         MINTER_ROLE, and circuits must be registered, before jobs can settle.
    /// @param token_ The resource token contract.
    /// @param admin Receives DEFAULT_ADMIN_ROLE and GOVERNANCE_ROLE.
    /// @dev Starts with every tariff at 1 token base unit per quantity unit, work paid in
    ///      class 0 (GPU) at 1 per work unit, no protocol fee, DEFAULT_SETTLEMENT_GRACE,
    ///      DEFAULT_CLOCK_SKEW_MS and no attestation requirement.
    constructor(ResourceToken token_, address admin) EIP712("zkmeter", "1") {
        if (address(token_) == address(0) || admin == address(0)) revert ZeroAddress();
        token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNANCE_ROLE, admin);
        for (uint256 c; c < CLASSES; ++c) {
            _tariffs[c] = Tariff(1, 1);
        }
        _workTariff = Tariff(1, 1);
        settlementGrace = DEFAULT_SETTLEMENT_GRACE;
        clockSkewMs = DEFAULT_CLOCK_SKEW_MS;
    }

    // ------------------------------------------------------------------ meters

    /// @notice Registers `meter` for the caller (its provider) with `capacity`, or changes
    ///         the capacity of a meter the caller registered before. The meter's key must
    ///         have signed `MeterRegistration(meter, provider = caller)` (EIP-712, see
    ///         `registrationDigest`), each time. A meter belongs to its first registrant for
    ///         good. The capacity can be lowered only down to what the meter's open jobs hold
    ///         (the sum rule); their own capacities never change. Clears the meter's
    ///         approval: when attestation is required, an attestor must approve it (again).
    /// @param meter The meter's address (its key signs the meter's stream states).
    /// @param capacity Per class, the most the meter can measure per millisecond, in the
    ///        class's base unit; jobs share it out among themselves.
    /// @param meterSignature The meter's 65-byte EIP-712 signature (r, s, v) over
    ///        MeterRegistration(meter, caller); high-s refused.
    function registerMeter(address meter, uint48[5] calldata capacity, bytes calldata meterSignature) external {
        if (meter == address(0)) revert ZeroAddress();
        Meter storage m = _meters[meter];
        address provider = m.provider;
        if (provider != address(0) && provider != msg.sender) revert MeterOwnedByOther(meter, provider);
        // Naming the provider in what the meter signs is what stops a front-runner from
        // registering the meter with the provider's own signature.
        address signer = ECDSA.recover(registrationDigest(meter, msg.sender), meterSignature);
        if (signer != meter) revert WrongRegistrationSignature(signer, meter);
        uint256 committed = m.committed;
        uint256 packed;
        for (uint256 c; c < CLASSES; ++c) {
            uint256 held = committed >> (CAPACITY_BITS * c) & CAPACITY_MASK;
            if (capacity[c] < held) revert CapacityBelowOpenJobs(c, capacity[c], held);
            packed |= uint256(capacity[c]) << (CAPACITY_BITS * c);
        }
        // forge-lint: disable-next-line(unsafe-typecast) five 48-bit parts fill 240 bits
        m.capacity = uint240(packed);
        m.approved = false;
        m.provider = msg.sender;
        emit MeterRegistered(meter, msg.sender, capacity);
    }

    /// @notice The EIP-712 digest a meter signs to be registered by `provider`.
    /// @param meter The meter.
    /// @param provider The provider that will register it (the caller of `registerMeter`).
    /// @return digest What `ecrecover` checks the signature against: it names the chain
    ///         and this contract (the domain) as well as the meter and the provider.
    function registrationDigest(address meter, address provider) public view returns (bytes32 digest) {
        return _hashTypedDataV4(keccak256(abi.encode(METER_REGISTRATION_TYPEHASH, meter, provider)));
    }

    /// @notice Approves a registered meter. ATTESTOR_ROLE only.
    /// @param meter The meter.
    function approveMeter(address meter) external onlyRole(ATTESTOR_ROLE) {
        Meter storage m = _registered(meter);
        m.approved = true;
        emit MeterApproved(meter, msg.sender);
    }

    /// @notice Withdraws the approval of a registered meter: while attestation is required,
    ///         its jobs can no longer be opened or settled. ATTESTOR_ROLE only.
    /// @param meter The meter.
    function revokeMeter(address meter) external onlyRole(ATTESTOR_ROLE) {
        Meter storage m = _registered(meter);
        m.approved = false;
        emit MeterRevoked(meter, msg.sender);
    }

    /// @notice A meter's registration.
    /// @param meter The meter.
    /// @return provider Who registered it (zero: not registered).
    /// @return approved Whether an attestor approved it.
    /// @return capacity Its registered capacity per class.
    /// @return committed Per class, the sum of the capacities of its open jobs: a new job
    ///         can have at most `capacity − committed`.
    function meterInfo(address meter)
        external
        view
        returns (address provider, bool approved, uint48[5] memory capacity, uint48[5] memory committed)
    {
        Meter storage m = _meters[meter];
        return (m.provider, m.approved, _unpack(m.capacity), _unpack(m.committed));
    }

    // ------------------------------------------------------------------ governance

    /// @notice Registers `verifier` as the verifier of `circuitId`, or removes the circuit
    ///         (verifier zero). GOVERNANCE_ROLE only.
    /// @param circuitId The circuit's id, e.g. keccak256 of its name and record slots.
    /// @param verifier A Groth16Verifier deployed with the circuit's verifying key, of
    ///        METER_PUBLIC_INPUTS (5) public inputs.
    function setCircuit(bytes32 circuitId, IGroth16Verifier verifier) external onlyRole(GOVERNANCE_ROLE) {
        _requireVerifierOrZero(verifier, METER_PUBLIC_INPUTS);
        verifiers[circuitId] = verifier;
        emit CircuitSet(circuitId, address(verifier));
    }

    /// @notice Registers `verifier` as the verifier of workload circuit `circuitId`, or
    ///         removes it (verifier zero). GOVERNANCE_ROLE only. Requests for a removed
    ///         circuit can no longer be made or settled.
    /// @param circuitId The workload circuit's id (e.g. from its key header).
    /// @param verifier A Groth16Verifier deployed with the circuit's verifying key, of
    ///        WORK_PUBLIC_INPUTS (4) public inputs.
    function setWorkCircuit(bytes32 circuitId, IGroth16Verifier verifier) external onlyRole(GOVERNANCE_ROLE) {
        _requireVerifierOrZero(verifier, WORK_PUBLIC_INPUTS);
        workVerifiers[circuitId] = verifier;
        emit WorkCircuitSet(circuitId, address(verifier));
    }

    /// @notice Sets the price of work: `amount` base units of class `class` per `per` work
    ///         units (multiply-accumulates). Applies to all work settled from now on,
    ///         requested before or not. GOVERNANCE_ROLE only.
    /// @param class The resource class work is paid in.
    /// @param amount Token base units charged per `per` work units (zero: free).
    /// @param per Work units the amount is for; at least 1.
    function setWorkTariff(uint256 class, uint128 amount, uint128 per) external onlyRole(GOVERNANCE_ROLE) {
        if (class >= CLASSES) revert UnknownClass(class);
        if (per == 0) revert ZeroTariffDenominator();
        // forge-lint: disable-next-line(unsafe-typecast) class < CLASSES
        _workClass = uint8(class);
        _workTariff = Tariff(amount, per);
        emit WorkTariffSet(class, amount, per);
    }

    /// @notice Sets the price of class `class`: `amount` token base units per `per`
    ///         quantity units. Applies to every epoch settled from now on. GOVERNANCE_ROLE only.
    /// @param class A resource class.
    /// @param amount Token base units charged per `per` quantity units (zero: free).
    /// @param per Quantity units the amount is for; at least 1.
    function setTariff(uint256 class, uint128 amount, uint128 per) external onlyRole(GOVERNANCE_ROLE) {
        if (class >= CLASSES) revert UnknownClass(class);
        if (per == 0) revert ZeroTariffDenominator();
        _tariffs[class] = Tariff(amount, per);
        emit TariffSet(class, amount, per);
    }

    /// @notice Sets the protocol fee, burned out of every payment. GOVERNANCE_ROLE only.
    /// @param bps Basis points, at most MAX_PROTOCOL_FEE_BPS.
    function setProtocolFee(uint256 bps) external onlyRole(GOVERNANCE_ROLE) {
        if (bps > MAX_PROTOCOL_FEE_BPS) revert ProtocolFeeTooHigh(bps);
        // forge-lint: disable-next-line(unsafe-typecast) bps <= MAX_PROTOCOL_FEE_BPS
        protocolFeeBps = uint16(bps);
        emit ProtocolFeeSet(bps);
    }

    /// @notice Sets how long after its expiry a job can still be settled (and only its
    ///         provider can close it). GOVERNANCE_ROLE only.
    /// @param grace Seconds.
    function setSettlementGrace(uint64 grace) external onlyRole(GOVERNANCE_ROLE) {
        settlementGrace = grace;
        emit SettlementGraceSet(grace);
    }

    /// @notice Sets how far past the block's time (in ms) an epoch may end: meters' clocks
    ///         and block timestamps disagree a little, and a meter may bill up to this much
    ///         time ahead of the chain. GOVERNANCE_ROLE only.
    /// @param skewMs Milliseconds, at most MAX_CLOCK_SKEW_MS.
    function setClockSkew(uint64 skewMs) external onlyRole(GOVERNANCE_ROLE) {
        if (skewMs > MAX_CLOCK_SKEW_MS) revert ClockSkewTooLarge(skewMs, MAX_CLOCK_SKEW_MS);
        clockSkewMs = skewMs;
        emit ClockSkewSet(skewMs);
    }

    /// @notice Sets whether meters need an attestor's approval to open and settle jobs.
    ///         GOVERNANCE_ROLE only.
    /// @param required True to require approval.
    function setAttestationRequired(bool required) external onlyRole(GOVERNANCE_ROLE) {
        attestationRequired = required;
        emit AttestationRequirementSet(required);
    }

    /// @notice The price of class `class`.
    /// @param class A resource class.
    /// @return amount Token base units charged per `per` quantity units.
    /// @return per Quantity units the amount is for.
    function tariff(uint256 class) external view returns (uint128 amount, uint128 per) {
        if (class >= CLASSES) revert UnknownClass(class);
        Tariff storage t = _tariffs[class];
        return (t.amount, t.per);
    }

    /// @notice The price of work.
    /// @return class The resource class work is paid in.
    /// @return amount Token base units charged per `per` work units.
    /// @return per Work units the amount is for.
    function workTariff() external view returns (uint256 class, uint128 amount, uint128 per) {
        Tariff storage t = _workTariff;
        return (_workClass, t.amount, t.per);
    }

    // ------------------------------------------------------------------ jobs

    /// @notice Opens a job with `meter` (and so with its provider) and `capacity`, escrowing
    ///         `escrow` tokens of each class from the caller, who becomes the job's
    ///         consumer. The caller must have approved this contract on the token
    ///         (setApprovalForAll). The job's stream starts at (genesisHead, 0, now in ms):
    ///         no epoch can bill time before the job was opened.
    /// @dev The sum rule: per class, `capacity` is at most the meter's registered capacity
    ///      minus the capacities of its other open jobs, so a meter's open jobs never hold
    ///      more capacity than it registered. Closing the job gives the capacity back.
    /// @param meter A registered (and, if required, approved) meter.
    /// @param capacity Per class, the most the job can be billed per millisecond (the
    ///        proofs are checked against it, whatever the meter's registration becomes).
    /// @param expiresAt Unix seconds, in the future; no epoch may end after it; see
    ///        `settlementGrace`.
    /// @param escrow Tokens of each class to escrow (zero allowed).
    /// @return jobId The new job's id (ids count from 1).
    function openJob(address meter, uint48[5] calldata capacity, uint64 expiresAt, uint128[5] calldata escrow)
        external
        returns (uint64 jobId)
    {
        Meter storage m = _registered(meter);
        if (attestationRequired && !m.approved) revert MeterNotApproved(meter);
        if (expiresAt <= block.timestamp) revert ExpiryInPast(expiresAt);
        uint256 registered = m.capacity;
        uint256 committed = m.committed;
        uint256 packed;
        for (uint256 c; c < CLASSES; ++c) {
            uint256 shift = CAPACITY_BITS * c;
            // The sum rule keeps committed ≤ registered in every part: no underflow.
            uint256 available = (registered >> shift & CAPACITY_MASK) - (committed >> shift & CAPACITY_MASK);
            if (capacity[c] > available) revert CapacityUnavailable(c, capacity[c], available);
            packed |= uint256(capacity[c]) << shift;
        }
        // Each part of the sum stays ≤ the registration's, below 2^48: no carry.
        // forge-lint: disable-next-line(unsafe-typecast) five 48-bit parts fill 240 bits
        m.committed = uint240(committed + packed);

        jobId = ++jobCount;
        uint256 head = genesisHead(meter, jobId);
        uint64 startMs = uint64(block.timestamp * 1000);
        Job storage job = _jobs[jobId];
        job.endMs = startMs;
        job.expiresAt = expiresAt;
        job.status = JobStatus.Open;
        job.head = head;
        // forge-lint: disable-next-line(unsafe-typecast) five 48-bit parts fill 240 bits
        job.capacity = uint240(packed);
        job.meter = meter;
        job.consumer = msg.sender;
        job.escrow = escrow;
        emit JobOpened(jobId, msg.sender, m.provider, meter, capacity, expiresAt, escrow, head, startMs);
        _moveTokens(msg.sender, address(this), escrow);
    }

    /// @notice Adds `amounts` to the escrow of a live job, from the caller (who must have
    ///         approved this contract on the token). Anyone may fund a job; what is left
    ///         at closing goes to its consumer.
    /// @param jobId The job.
    /// @param amounts Tokens of each class to add.
    function fundJob(uint64 jobId, uint128[5] calldata amounts) external {
        Job storage job = _live(jobId);
        for (uint256 c; c < CLASSES; ++c) {
            if (amounts[c] == 0) continue;
            uint256 sum = uint256(job.escrow[c]) + amounts[c];
            if (sum > type(uint128).max) revert EscrowTooLarge(c);
            // forge-lint: disable-next-line(unsafe-typecast) checked just above
            job.escrow[c] = uint128(sum);
        }
        emit JobFunded(jobId, msg.sender, amounts);
        _moveTokens(msg.sender, address(this), amounts);
    }

    /// @notice Moves the expiry of a live job, later or earlier but not into the past.
    ///         Consumer only. To stop a job, set it to now: the provider can still settle
    ///         for `settlementGrace`, then anyone can close it.
    /// @param jobId The job.
    /// @param expiresAt Unix seconds, not before the current block's timestamp.
    function setJobExpiry(uint64 jobId, uint64 expiresAt) external {
        Job storage job = _live(jobId);
        if (msg.sender != job.consumer) revert NotConsumer(jobId);
        if (expiresAt < block.timestamp) revert ExpiryInPast(expiresAt);
        job.expiresAt = expiresAt;
        emit JobExpirySet(jobId, expiresAt);
    }

    /// @notice Closes an open job, sends the rest of its escrow back to the consumer and
    ///         gives its capacity back to the meter. The provider may close at any time
    ///         (giving up further settlements); anyone may once `expiresAt +
    ///         settlementGrace` has passed.
    /// @param jobId The job.
    function closeJob(uint64 jobId) external {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Open) revert JobNotOpen(jobId);
        uint256 deadline = _deadline(job);
        Meter storage m = _meters[job.meter];
        if (block.timestamp <= deadline && msg.sender != m.provider) {
            revert JobNotExpired(jobId, deadline);
        }
        // committed is the sum of the open jobs' capacities, this one's among them: no
        // part borrows.
        m.committed -= job.capacity;
        uint128[5] memory refund = job.escrow;
        delete job.escrow;
        job.status = JobStatus.Closed;
        emit JobClosed(jobId, msg.sender, refund);
        _moveTokens(address(this), job.consumer, refund);
    }

    /// @notice A job.
    /// @param jobId The job.
    /// @return view_ Its consumer, provider, meter, capacity, expiry, status, stream state
    ///         and escrow (all zero for a job that was never opened).
    function jobInfo(uint64 jobId) external view returns (JobView memory view_) {
        Job storage j = _jobs[jobId];
        view_ = JobView({
            consumer: j.consumer,
            provider: _meters[j.meter].provider,
            meter: j.meter,
            capacity: _unpack(j.capacity),
            expiresAt: j.expiresAt,
            status: j.status,
            state: StreamState(j.head, j.seq, j.endMs),
            escrow: j.escrow
        });
    }

    // ------------------------------------------------------------------ settlement

    /// @notice Settles one epoch of a job's stream: checks the meter's signature over the
    ///         new state, that the statement continues the stored state, that the epoch
    ///         ends neither after the block's time plus `clockSkewMs` nor after the job's
    ///         expiry, and the proof (with circuit `circuitId`'s verifier, against the job's
    ///         capacity); stores the new state; burns the bill (totals × tariff, capped by
    ///         the escrow, see `EscrowShortfall`) from the escrow and mints it, less the
    ///         protocol fee, to the provider. Anyone may call.
    /// @param circuitId A registered circuit (e.g. the meter circuit with N record slots).
    /// @param statement The epoch: job, previous and new stream state, per-class totals.
    /// @param proof The Groth16 proof: A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y.
    /// @param meterSignature The meter's 65-byte EIP-712 signature (r, s, v) over
    ///        StreamState(meter, jobId, next.head, next.seq, next.endMs); high-s refused.
    function settle(
        bytes32 circuitId,
        MeterStatement calldata statement,
        uint256[8] calldata proof,
        bytes calldata meterSignature
    ) external {
        IGroth16Verifier verifier = _verifier(circuitId);
        Job storage job = _live(statement.jobId);
        uint256[6] memory inputs = _advance(job, statement, meterSignature);
        if (!verifier.verifyProof(proof, inputs)) revert InvalidProof();
        _pay(statement.jobId, circuitId, inputs);
    }

    /// @notice Settles several epochs in one transaction, as `settle` would one after the
    ///         other, with one batched proof check (n + 3 pairings instead of 4n): the
    ///         cheaper way to settle when epochs pile up. Epochs may belong to different
    ///         jobs, or follow each other in the same job (in order). An epoch whose job's
    ///         stream already reached (or passed) its `next.seq` is skipped (`EpochSkipped`),
    ///         so a third party settling one epoch first does not block the others; the
    ///         proof check covers the remaining epochs only. Otherwise all or nothing: one
    ///         bad epoch reverts the batch.
    /// @param circuitId A registered circuit; every proof is for it.
    /// @param statements The epochs, in the order they are applied.
    /// @param proofs One proof per epoch, same order.
    /// @param meterSignatures One meter signature per epoch, same order.
    /// @return settled How many epochs settled (the rest were skipped); zero is no error.
    function settleBatch(
        bytes32 circuitId,
        MeterStatement[] calldata statements,
        uint256[8][] calldata proofs,
        bytes[] calldata meterSignatures
    ) external returns (uint256 settled) {
        IGroth16Verifier verifier = _verifier(circuitId);
        uint256 n = statements.length;
        if (n == 0 || proofs.length != n || meterSignatures.length != n) revert BatchLength();
        (uint256[6][] memory inputs, uint256[] memory taken) = _advanceBatch(statements, meterSignatures);
        settled = taken.length;
        if (settled == 0) return 0;
        _verifyBatch(verifier, proofs, inputs, taken);
        for (uint256 k; k < settled; ++k) {
            _pay(statements[taken[k]].jobId, circuitId, inputs[k]);
        }
    }

    // ------------------------------------------------------------------ work

    /// @notice Asks for `model` to be run on `input` in job `jobId`, proven with workload
    ///         circuit `circuitId`: only then can the work be settled (and billed to the
    ///         job's escrow). Consumer of a live job only; each (job, circuit, model,
    ///         input) once.
    /// @param jobId A live job of the caller's.
    /// @param circuitId A registered workload circuit: it fixes the shape, and so the
    ///        work units the request will cost.
    /// @param model The model commitment (< r).
    /// @param input The input commitment (< r).
    function requestWork(uint64 jobId, bytes32 circuitId, uint256 model, uint256 input) external {
        Job storage job = _live(jobId);
        if (msg.sender != job.consumer) revert NotConsumer(jobId);
        _workVerifier(circuitId);
        if (model >= R) revert CommitmentNotInField(model);
        if (input >= R) revert CommitmentNotInField(input);
        bytes32 key = _workKey(jobId, circuitId, model, input);
        WorkStatus status = _work[key];
        if (status == WorkStatus.Requested) revert WorkAlreadyRequested(jobId, circuitId, model, input);
        if (status == WorkStatus.Settled) revert WorkAlreadySettled(jobId, circuitId, model, input);
        _work[key] = WorkStatus.Requested;
        emit WorkRequested(jobId, circuitId, model, input);
    }

    /// @notice Settles requested work: verifies the proof with workload circuit
    ///         `circuitId`'s verifier against [model, input, output, jobId | workUnits << 64,
    ///         0, 0], marks the work settled, burns the bill (workUnits × work tariff,
    ///         capped by the work class's escrow, see `EscrowShortfall`) from the escrow and
    ///         mints it, less the protocol fee, to the job's provider. Anyone may call: the
    ///         proof is the authority. The job must be live.
    /// @param circuitId The workload circuit the work was requested with.
    /// @param statement The work: job, model, input and output commitments, work units.
    /// @param proof The Groth16 proof: A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y.
    function settleWork(bytes32 circuitId, WorkStatement calldata statement, uint256[8] calldata proof) external {
        IGroth16Verifier verifier = _workVerifier(circuitId);
        Job storage job = _live(statement.jobId);
        bytes32 key = _workKey(statement.jobId, circuitId, statement.model, statement.input);
        WorkStatus status = _work[key];
        if (status != WorkStatus.Requested) {
            if (status == WorkStatus.None) {
                revert WorkNotRequested(statement.jobId, circuitId, statement.model, statement.input);
            }
            revert WorkAlreadySettled(statement.jobId, circuitId, statement.model, statement.input);
        }
        if (statement.output >= R) revert CommitmentNotInField(statement.output);
        uint256[6] memory inputs = [
            statement.model,
            statement.input,
            statement.output,
            uint256(statement.jobId) | uint256(statement.workUnits) << 64,
            0,
            0
        ];
        if (!verifier.verifyProof(proof, inputs)) revert InvalidProof();
        _work[key] = WorkStatus.Settled;
        _payWork(job, circuitId, statement);
    }

    /// @notice Where a piece of work stands.
    /// @param jobId The job.
    /// @param circuitId The workload circuit.
    /// @param model The model commitment.
    /// @param input The input commitment.
    /// @return status None (never requested), Requested, or Settled.
    function workStatus(uint64 jobId, bytes32 circuitId, uint256 model, uint256 input)
        external
        view
        returns (WorkStatus status)
    {
        return _work[_workKey(jobId, circuitId, model, input)];
    }

    /// @notice The five public inputs `settle` would verify `statement`'s proof against
    ///         (the verifier gets them with a sixth word, 0): x0 prev.head; x1 next.head;
    ///         x2 prev.seq | prev.endMs << 64 | next.endMs << 128 | (next.seq − prev.seq) << 192;
    ///         x3 Σ_c total[c] << O_c, O = [0, 44, 88, 152, 204]; x4 the job's capacity,
    ///         Σ_c cap[c] << 48c. Reverts as `settle` would on a bad record count
    ///         (`BadRecordCount`) or a total wider than its lane (`TotalTooLarge`); does not
    ///         check the state, the clock or the signature.
    /// @param statement The epoch; its job must exist.
    /// @return inputs x0..x4.
    function publicInputs(MeterStatement calldata statement) external view returns (uint256[5] memory inputs) {
        Job storage j = _jobs[statement.jobId];
        if (j.status == JobStatus.None) revert UnknownJob(statement.jobId);
        uint256[6] memory x = _publicInputs(statement, j.capacity);
        return [x[0], x[1], x[2], x[3], x[4]];
    }

    /// @notice The EIP-712 digest a meter signs for its stream (`meter`, `jobId`) reaching `state`.
    /// @param meter The meter.
    /// @param jobId The job.
    /// @param state The new state.
    /// @return digest What `ecrecover` checks the signature against.
    function stateDigest(address meter, uint64 jobId, StreamState calldata state) public view returns (bytes32 digest) {
        return _hashTypedDataV4(
            keccak256(abi.encode(STREAM_STATE_TYPEHASH, meter, jobId, state.head, state.seq, state.endMs))
        );
    }

    /// @notice The head the stream (`meter`, `jobId`) starts from:
    ///         keccak256(GENESIS_TAG ‖ meter ‖ jobId as 8 big-endian bytes) mod r.
    /// @param meter The meter.
    /// @param jobId The job.
    /// @return head The genesis head (its seq is 0, its endMs the job's opening time in ms).
    function genesisHead(address meter, uint64 jobId) public pure returns (uint256 head) {
        return uint256(keccak256(abi.encodePacked(GENESIS_TAG, meter, jobId))) % R;
    }

    // ------------------------------------------------------------------ ERC-1155 receiver

    /// @notice Accepts tokens only when this contract pulls them into an escrow itself.
    /// @param operator Who moved the tokens: must be this contract.
    /// @return The ERC-1155 acceptance magic value.
    function onERC1155Received(address operator, address, uint256, uint256, bytes calldata)
        external
        view
        returns (bytes4)
    {
        _acceptOnlyOwnPulls(operator);
        return IERC1155Receiver.onERC1155Received.selector;
    }

    /// @notice Accepts tokens only when this contract pulls them into an escrow itself.
    /// @param operator Who moved the tokens: must be this contract.
    /// @return The ERC-1155 batch acceptance magic value.
    function onERC1155BatchReceived(address operator, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        view
        returns (bytes4)
    {
        _acceptOnlyOwnPulls(operator);
        return IERC1155Receiver.onERC1155BatchReceived.selector;
    }

    /// @notice ERC-165: AccessControl and the ERC-1155 receiver interface.
    /// @param interfaceId The interface asked about.
    /// @return True iff this contract implements it.
    function supportsInterface(bytes4 interfaceId) public view override(AccessControl, IERC165) returns (bool) {
        return interfaceId == type(IERC1155Receiver).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    function _registered(address meter) private view returns (Meter storage m) {
        m = _meters[meter];
        if (m.provider == address(0)) revert MeterNotRegistered(meter);
    }

    /// @dev An open job within its settlement deadline.
    function _live(uint64 jobId) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status != JobStatus.Open) revert JobNotOpen(jobId);
        uint256 deadline = _deadline(job);
        if (block.timestamp > deadline) revert JobExpired(jobId, deadline);
    }

    function _deadline(Job storage job) private view returns (uint256) {
        return uint256(job.expiresAt) + settlementGrace;
    }

    function _verifier(bytes32 circuitId) private view returns (IGroth16Verifier verifier) {
        verifier = verifiers[circuitId];
        if (address(verifier) == address(0)) revert UnknownCircuit(circuitId);
    }

    function _workVerifier(bytes32 circuitId) private view returns (IGroth16Verifier verifier) {
        verifier = workVerifiers[circuitId];
        if (address(verifier) == address(0)) revert UnknownWorkCircuit(circuitId);
    }

    /// @dev A verifier to register must have code and be for a circuit of `inputs` public
    ///      inputs (a meter circuit's verifier must not settle work, nor a 6-input v1 meter
    ///      verifier a v2 epoch); zero (removing a circuit) is fine.
    function _requireVerifierOrZero(IGroth16Verifier verifier, uint256 inputs) private view {
        if (address(verifier) == address(0)) return;
        if (address(verifier).code.length == 0) revert NotAContract(address(verifier));
        uint256 found;
        try verifier.PUBLIC_INPUTS() returns (uint256 count) {
            found = count;
        } catch {
            revert NotAVerifier(address(verifier));
        }
        if (found != inputs) revert WrongPublicInputCount(inputs, found);
    }

    /// @dev The five 48-bit parts of a packed capacity.
    function _unpack(uint256 packed) private pure returns (uint48[5] memory parts) {
        for (uint256 c; c < CLASSES; ++c) {
            // forge-lint: disable-next-line(unsafe-typecast) keeps part c, the low 48 bits
            parts[c] = uint48(packed >> (CAPACITY_BITS * c));
        }
    }

    function _workKey(uint64 jobId, bytes32 circuitId, uint256 model, uint256 input) private pure returns (bytes32) {
        return keccak256(abi.encode(jobId, circuitId, model, input));
    }

    /// @dev Everything `settle` checks before the proof, then the move to the new state;
    ///      returns the public inputs the proof must be checked against (a failing check
    ///      reverts the state change with everything else). `job` is live.
    function _advance(Job storage job, MeterStatement calldata s, bytes calldata signature)
        private
        returns (uint256[6] memory x)
    {
        address meter = job.meter;
        if (attestationRequired && !_meters[meter].approved) revert MeterNotApproved(meter);
        (uint256 head, uint64 seq, uint64 endMs) = (job.head, job.seq, job.endMs);
        if (head != s.prev.head || seq != s.prev.seq || endMs != s.prev.endMs) revert StaleState(head, seq, endMs);
        x = _publicInputs(s, job.capacity);
        // With the circuit's total ≤ cap × (next.endMs − prev.endMs) and a stream that
        // starts at the opening time, these two bound what a job can bill by its capacity
        // times the real time it was open (plus the skew).
        uint64 nextEndMs = s.next.endMs;
        uint256 latestMs = block.timestamp * 1000 + clockSkewMs;
        if (nextEndMs > latestMs) revert EpochEndsAfterNow(nextEndMs, latestMs);
        uint256 expiryMs = uint256(job.expiresAt) * 1000;
        if (nextEndMs > expiryMs) revert EpochEndsAfterExpiry(nextEndMs, expiryMs);
        address signer = ECDSA.recover(stateDigest(meter, s.jobId, s.next), signature);
        if (signer != meter) revert WrongMeterSignature(signer, meter);
        job.head = s.next.head;
        job.seq = s.next.seq;
        job.endMs = nextEndMs;
    }

    /// @dev `_advance` over a batch, skipping (with `EpochSkipped`) each epoch whose live
    ///      job already reached its next.seq; returns the public inputs of the epochs that
    ///      moved on and their indices in the batch.
    function _advanceBatch(MeterStatement[] calldata statements, bytes[] calldata signatures)
        private
        returns (uint256[6][] memory inputs, uint256[] memory taken)
    {
        uint256 n = statements.length;
        inputs = new uint256[6][](n);
        taken = new uint256[](n);
        uint256 k;
        for (uint256 i; i < n; ++i) {
            MeterStatement calldata s = statements[i];
            Job storage job = _live(s.jobId);
            if (job.seq >= s.next.seq) {
                emit EpochSkipped(s.jobId, s.next.seq);
                continue;
            }
            inputs[k] = _advance(job, s, signatures[i]);
            taken[k] = i;
            ++k;
        }
        // Only the first k entries are used: shorten both arrays in place.
        assembly ("memory-safe") {
            mstore(inputs, k)
            mstore(taken, k)
        }
    }

    /// @dev One batched proof check over the epochs `taken` (indices into `proofs`); the
    ///      proofs go as they came when none was skipped.
    function _verifyBatch(
        IGroth16Verifier verifier,
        uint256[8][] calldata proofs,
        uint256[6][] memory inputs,
        uint256[] memory taken
    ) private view {
        bool valid;
        if (taken.length == proofs.length) {
            valid = verifier.verifyBatch(proofs, inputs);
        } else {
            uint256[8][] memory some = new uint256[8][](taken.length);
            for (uint256 k; k < taken.length; ++k) {
                some[k] = proofs[taken[k]];
            }
            valid = verifier.verifyBatch(some, inputs);
        }
        if (!valid) revert InvalidProof();
    }

    /// @dev x0..x4 as the circuit lays them out, x5 = 0; `capacity` is the job's.
    function _publicInputs(MeterStatement calldata s, uint256 capacity) private pure returns (uint256[6] memory x) {
        uint64 prevSeq = s.prev.seq;
        uint64 nextSeq = s.next.seq;
        if (nextSeq <= prevSeq || nextSeq - prevSeq >= RECORD_COUNT_LIMIT) revert BadRecordCount(prevSeq, nextSeq);
        x[0] = s.prev.head;
        x[1] = s.next.head;
        x[2] = uint256(prevSeq) | uint256(s.prev.endMs) << 64 | uint256(s.next.endMs) << 128
            | uint256(nextSeq - prevSeq) << 192;
        x[3] = _packTotals(s.totals);
        x[4] = capacity;
    }

    /// @dev x3: each total in its lane, after refusing one wider than its lane. Without the
    ///      check a total would spill into the next class's lane, and a proof of one bill
    ///      would settle another.
    function _packTotals(uint64[5] calldata t) private pure returns (uint256) {
        (uint256 gpu, uint256 cpu, uint256 storage_, uint256 network, uint256 energy) = (t[0], t[1], t[2], t[3], t[4]);
        if (gpu >> GPU_BITS != 0) revert TotalTooLarge(0, gpu);
        if (cpu >> CPU_BITS != 0) revert TotalTooLarge(1, cpu);
        // storage's lane is 64 bits wide: every uint64 fits.
        if (network >> NETWORK_BITS != 0) revert TotalTooLarge(3, network);
        if (energy >> ENERGY_BITS != 0) revert TotalTooLarge(4, energy);
        return gpu | cpu << CPU_OFFSET | storage_ << STORAGE_OFFSET | network << NETWORK_OFFSET | energy << ENERGY_OFFSET;
    }

    /// @dev Class c's total, from x3.
    function _total(uint256 totals, uint256 c) private pure returns (uint256) {
        if (c == 0) return totals & (2 ** GPU_BITS - 1);
        if (c == 1) return totals >> CPU_OFFSET & (2 ** CPU_BITS - 1);
        if (c == 2) return totals >> STORAGE_OFFSET & (2 ** STORAGE_BITS - 1);
        if (c == 3) return totals >> NETWORK_OFFSET & (2 ** NETWORK_BITS - 1);
        return totals >> ENERGY_OFFSET;
    }

    /// @dev Bills each class with usage (read from x3, `x[3]`), takes what the escrow
    ///      covers, burns it and mints it less the fee to the provider (one token call),
    ///      and emits the settlement's events.
    function _pay(uint64 jobId, bytes32 circuitId, uint256[6] memory x) private {
        Job storage job = _jobs[jobId];
        uint256[5] memory paid;
        uint256[5] memory unpaid;
        uint256 classes;
        bool shortfall;
        uint256 feeBps = protocolFeeBps;
        for (uint256 c; c < CLASSES; ++c) {
            uint256 total = _total(x[3], c);
            if (total == 0) continue;
            Tariff memory t = _tariffs[c];
            uint256 bill = total * t.amount / t.per;
            uint256 take = _take(job.escrow, c, bill);
            if (take < bill) {
                unpaid[c] = bill - take;
                shortfall = true;
            }
            if (take == 0) continue;
            paid[c] = take | (take - take * feeBps / 10_000) << 128;
            ++classes;
        }
        address provider = _meters[job.meter].provider;
        _burnAndMint(provider, paid, classes);
        emit Settled(jobId, circuitId, provider, x[1], x[2], x[3], paid);
        if (shortfall) emit EscrowShortfall(jobId, unpaid);
    }

    /// @dev Takes `bill` of class `c` from the job's escrow, or all it holds if less;
    ///      returns what it took.
    function _take(uint128[5] storage escrow, uint256 c, uint256 bill) private returns (uint256 paid) {
        uint256 available = escrow[c];
        paid = bill < available ? bill : available;
        // forge-lint: disable-next-line(unsafe-typecast) below `available`, a uint128
        if (paid != 0) escrow[c] = uint128(available - paid);
    }

    /// @dev Bills proven work in the work class, takes what the escrow covers, burns it
    ///      and mints it less the fee to the provider, and emits the settlement's events.
    function _payWork(Job storage job, bytes32 circuitId, WorkStatement calldata s) private {
        uint256 c = _workClass;
        Tariff memory t = _workTariff;
        uint256 bill = uint256(s.workUnits) * t.amount / t.per;
        uint256 burned = _take(job.escrow, c, bill);
        uint256 minted = burned - burned * protocolFeeBps / 10_000;
        uint256[5] memory paid;
        paid[c] = burned | minted << 128;
        address provider = _meters[job.meter].provider;
        _burnAndMint(provider, paid, burned == 0 ? 0 : 1);
        _emitWorkSettled(circuitId, s, provider, burned, minted);
        if (burned < bill) {
            uint256[5] memory unpaid;
            unpaid[c] = bill - burned;
            emit EscrowShortfall(s.jobId, unpaid);
        }
    }

    /// @dev Apart from `_payWork` only for the stack: the event has nine fields.
    function _emitWorkSettled(
        bytes32 circuitId,
        WorkStatement calldata s,
        address provider,
        uint256 burned,
        uint256 minted
    ) private {
        emit WorkSettled(s.jobId, circuitId, provider, s.model, s.input, s.output, s.workUnits, burned, minted);
    }

    /// @dev One token call that burns from this contract's escrow and mints to the
    ///      provider, over the `classes` classes paid: `paid[c]` is burned | minted << 128
    ///      (burned ≤ an escrow, so below 2^128), zero for a class not paid. No class
    ///      paid, no token call.
    function _burnAndMint(address provider, uint256[5] memory paid, uint256 classes) private {
        if (classes == 0) return;
        uint256[] memory ids = new uint256[](classes);
        uint256[] memory burn = new uint256[](classes);
        uint256[] memory mint = new uint256[](classes);
        uint256 k;
        for (uint256 c; c < CLASSES; ++c) {
            uint256 p = paid[c];
            if (p == 0) continue;
            // forge-lint: disable-next-line(unsafe-typecast) the low half is `burned`, < 2^128
            (ids[k], burn[k], mint[k]) = (c, uint128(p), p >> 128);
            ++k;
        }
        token.burnAndMintBatch(provider, ids, burn, mint);
    }

    /// @dev Moves the non-zero amounts of `amounts` from `from` to `to` in one batch.
    function _moveTokens(address from, address to, uint128[5] memory amounts) private {
        uint256 n;
        for (uint256 c; c < CLASSES; ++c) {
            if (amounts[c] != 0) ++n;
        }
        if (n == 0) return;
        uint256[] memory ids = new uint256[](n);
        uint256[] memory values = new uint256[](n);
        uint256 k;
        for (uint256 c; c < CLASSES; ++c) {
            if (amounts[c] == 0) continue;
            (ids[k], values[k]) = (c, amounts[c]);
            ++k;
        }
        token.safeBatchTransferFrom(from, to, ids, values, "");
    }

    function _acceptOnlyOwnPulls(address operator) private view {
        if (msg.sender != address(token) || operator != address(this)) revert UnexpectedTokens();
    }
}
