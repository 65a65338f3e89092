// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {CidCodec} from "./lib/CidCodec.sol";

/// @title ClusterRounds — D2D-clustered (hierarchical) rounds of one FederatedTask (docs/d2d-clusters.md)
/// @notice A side contract: FederatedTask is unchanged (it is above EIP-170). It holds the clustered
/// mode's parameters and, per round, each cluster head's record:
/// - `configure` (the task's initiator, once, before the task starts): the CID of the radio scenario
///   (peer positions, base station, device tiers) every peer computes the clustering from, the
///   cluster size cap, the battery a head needs, and the share of the verify-commit window open for
///   records. The scenario is public content (IPFS), so anyone recomputes who heads which cluster.
/// - `recordCluster` (a head, in the first `recordWindowBps` of the round's verify-commit window):
///   its cluster's members (every one committed its own update through the task's `commitUpdate`),
///   the ones it included (accepted by the task's rule at cluster level), and the CID of the
///   cluster aggregate it pinned. The accepted samples are summed here from the members' commits,
///   so they are not a claim. Verifiers judge cluster aggregates and lone peers' updates, then vote
///   per commit through the task as always; whether a head's record matches the clustering and its
///   members' content is checked off chain (by the verifiers and the audit), as only they can.
/// - Sampled checks: once the record window closed, `drawCheckSeed` fixes a seed block and then stores
///   keccak256(this, round, blockhash(seed block)) — a seed that did not exist while heads recorded.
///   From it every peer computes who checks each cluster (node/protocol/cluster-round.ts
///   clusterCheckers): `insideCheckers` committee verifiers among the cluster's own members (over the
///   sidelink: no Uu bytes) and, with probability `outsideCheckBps` per cluster and round, one committee
///   verifier from outside the cluster (members may collude with their head; the outside sample is
///   what makes lying a losing bet, docs/d2d-clusters.md). The others take the head's aggregate as recorded.
/// - A head that could not fetch some member's update records the members it aggregated over; the
///   clustering's members it left out are judged alone by every verifier (the flat path), so leaving
///   a member out never hurts that member.
/// - `challengeCluster` (a committee verifier of the round, in the challenge window after the record
///   window): a checker that found a lying head flags its cluster; every verifier then checks that
///   cluster in full from its members' updates (a caught head's own commit is rejected, its members
///   judged alone). Verifiers commit their votes after the challenge window.
/// @dev The task is read through IFederatedTask views only. Peer indices are < 256 (the task's
/// bitmap width), so members and included sets are uint256 bitmaps over peer indices.
contract ClusterRounds {
    /// @notice Clustered-mode parameters (set once by the task's initiator).
    struct Config {
        bytes scenarioCid;          // the radio scenario (JSON on IPFS) the clustering is computed from
        uint16 maxClusterSize;      // head + members (2..32)
        uint16 minHeadBatteryBps;   // battery a head needs, bps of full (node/links/clusters.ts minHeadEnergy)
        uint16 recordWindowBps;     // share of the verify-commit window open for records (1..9000 bps)
        uint16 challengeWindowBps;  // share after the record window open for challenges (1..9000 bps; record + challenge <= 9000)
        uint8 insideCheckers;       // k: committee verifiers among the cluster's members drawn to check it (0..16)
        uint16 outsideCheckBps;     // p: chance per cluster and round that one outside committee verifier checks it too (1..10000 bps)
    }

    /// @notice One head's record of one round.
    struct Record {
        uint256 members;        // peer-index bitmap: head + the members it aggregated over (all committed this round)
        uint256 included;       // subset of members accepted by the rule at cluster level
        bytes aggregateCid;     // the cluster aggregate (empty when nothing was included)
        uint64 acceptedSamples; // sum of the included members' committed numSamples
    }

    bytes32 public constant INITIATOR_ROLE = keccak256("INITIATOR_ROLE");
    uint8 private constant _TRAINER = 1;
    /// @dev FederatedTask robustRule id of validation-vote (node/protocol/ids.ts).
    uint8 private constant _VALIDATION_VOTE = 7;

    IFederatedTask public immutable task;
    bool public configured;
    Config private _config;
    /// @dev verificationDuration of the task, read once at configuration.
    uint32 public verificationDuration;

    mapping(uint32 round => uint256) private _heads;
    mapping(uint32 round => uint256) private _clustered;
    mapping(uint32 round => mapping(uint16 headIndex => Record)) private _records;
    mapping(uint32 round => uint64) private _checkSeedBlock;
    mapping(uint32 round => bytes32) private _checkSeed;
    mapping(uint32 round => uint256) private _challenged;
    mapping(uint32 round => mapping(uint16 headIndex => address)) private _challenger;

    event ClusterRoundsConfigured(address indexed initiator, Config config);
    event ClusterRecorded(
        uint32 indexed round, address indexed head, uint16 headIndex, uint256 members, uint256 included,
        bytes aggregateCid, uint64 acceptedSamples
    );

    /// @notice The seed's block is fixed (its hash is readable from the next block on).
    event CheckSeedBlockFixed(uint32 indexed round, uint64 seedBlock);
    /// @notice The seed that assigns checkers to clusters was stored.
    event CheckSeedDrawn(uint32 indexed round, uint64 seedBlock, bytes32 seed);
    /// @notice A committee verifier challenged the record of head `headIndex`: every verifier checks that cluster in full.
    event ClusterChallenged(uint32 indexed round, uint16 indexed headIndex, address indexed challenger);

    error ZeroTask();
    error NotInitiator(address caller);
    error AlreadyConfigured();
    /// @notice The task's rule votes privately (validation-vote: each verifier scores on its own held-out
    /// data), so nobody can recompute a head's cluster verdict: clustered mode cannot check its heads.
    error RuleNotCheckable(uint8 robustRule);
    error NotConfigured();
    error TaskNotConfigured();
    error TaskAlreadyStarted();
    error InvalidConfig(string field);
    error NotRegistered(address peer);
    error PeerBanned(address peer);
    error PeerInactive(address peer);
    error WrongRound(uint32 round, uint32 currentRound);
    error WrongPhase(uint32 round, uint8 phase);
    error RecordWindowClosed(uint32 round, uint64 recordDeadline);
    error AlreadyRecorded(uint32 round, uint16 headIndex);
    error HeadNotInMembers(uint16 headIndex, uint256 members);
    error ClusterSizeInvalid(uint256 size, uint16 maxClusterSize);
    error IncludedNotMembers(uint256 included, uint256 members);
    error MemberAlreadyClustered(uint32 round, uint16 peerIndex);
    error MemberNotCommitted(uint32 round, uint16 peerIndex);
    error MemberOutOfRange(uint16 peerIndex, uint256 peerCount);
    /// @notice An aggregate CID is required exactly when some member is included.
    error AggregateCidMismatch(uint256 included, uint256 cidLength);
    error CheckSeedTooEarly(uint32 round, uint64 recordDeadline);
    error CheckSeedAlreadyDrawn(uint32 round);
    error CheckSeedUnavailable(uint32 round, uint64 seedBlock);
    error ChallengeWindowNotOpen(uint32 round, uint64 recordDeadline);
    error ChallengeWindowClosed(uint32 round, uint64 challengeDeadline);
    error NotCommitteeVerifier(uint32 round, address caller);
    error NoClusterRecord(uint32 round, uint16 headIndex);
    error AlreadyChallenged(uint32 round, uint16 headIndex);

    constructor(address taskAddress) {
        if (taskAddress == address(0)) revert ZeroTask();
        task = IFederatedTask(taskAddress);
    }

    // ------------------------------------------------------------------ configuration

    /// @notice The task's initiator sets the clustered-mode parameters, once, after configuring the
    /// task and before starting it (peers must know the mode before round 1).
    function configure(Config calldata c) external {
        if (!IAccessControl(address(task)).hasRole(INITIATOR_ROLE, msg.sender)) revert NotInitiator(msg.sender);
        if (configured) revert AlreadyConfigured();
        IFederatedTask.TaskConfig memory tc = task.taskConfig();
        if (tc.verificationDuration == 0 || tc.modelSpecCid.length == 0) revert TaskNotConfigured();
        if (task.taskStarted()) revert TaskAlreadyStarted();
        if (tc.robustRule == _VALIDATION_VOTE) revert RuleNotCheckable(tc.robustRule);
        CidCodec.decode(c.scenarioCid);
        if (c.maxClusterSize < 2 || c.maxClusterSize > 32) revert InvalidConfig("maxClusterSize");
        if (c.minHeadBatteryBps > 10000) revert InvalidConfig("minHeadBatteryBps");
        if (c.recordWindowBps == 0 || c.recordWindowBps > 9000) revert InvalidConfig("recordWindowBps");
        if (c.challengeWindowBps == 0 || uint256(c.recordWindowBps) + c.challengeWindowBps > 9000) revert InvalidConfig("challengeWindowBps");
        if (c.insideCheckers > 16) revert InvalidConfig("insideCheckers");
        // p = 0 would leave every cluster to checkers its head may have chosen as accomplices (its neighbours).
        if (c.outsideCheckBps == 0 || c.outsideCheckBps > 10000) revert InvalidConfig("outsideCheckBps");
        _config = c;
        verificationDuration = tc.verificationDuration;
        configured = true;
        emit ClusterRoundsConfigured(msg.sender, c);
    }

    function config() external view returns (Config memory) {
        return _config;
    }

    // ------------------------------------------------------------------ per round

    /// @notice End of `round`'s record window (0 when the round is not in VerifyCommit).
    function recordDeadline(uint32 round) public view returns (uint64) {
        (IFederatedTask.Phase phase, uint64 phaseDeadline,,,,,,,,) = task.getRound(round);
        if (phase != IFederatedTask.Phase.VerifyCommit) return 0;
        uint64 closedPart = uint64((uint256(verificationDuration) * (10000 - _config.recordWindowBps)) / 10000);
        return phaseDeadline > closedPart ? phaseDeadline - closedPart : 0;
    }

    /// @notice End of `round`'s challenge window, which follows the record window (0 when the round is
    /// not in VerifyCommit). Verifiers commit their votes after it.
    function challengeDeadline(uint32 round) public view returns (uint64) {
        (IFederatedTask.Phase phase, uint64 phaseDeadline,,,,,,,,) = task.getRound(round);
        if (phase != IFederatedTask.Phase.VerifyCommit) return 0;
        uint256 open = uint256(_config.recordWindowBps) + _config.challengeWindowBps;
        uint64 closedPart = uint64((uint256(verificationDuration) * (10000 - open)) / 10000);
        return phaseDeadline > closedPart ? phaseDeadline - closedPart : 0;
    }

    /// @notice Anyone, after `round`'s record window: the first call fixes the seed block (this
    /// block; again when its hash aged out, > 256 blocks), a call from a later block stores the seed
    /// keccak256(abi.encode(this, round, blockhash(seed block))). Records are final before the seed
    /// block exists, so no head can know at record time whom the seed assigns to check it.
    function drawCheckSeed(uint32 round) external {
        _requireVerifyCommit(round);
        uint64 deadline = recordDeadline(round);
        if (block.timestamp <= deadline) revert CheckSeedTooEarly(round, deadline);
        if (_checkSeed[round] != bytes32(0)) revert CheckSeedAlreadyDrawn(round);
        uint64 seedBlock = _checkSeedBlock[round];
        if (seedBlock == 0 || block.number > uint256(seedBlock) + 256) {
            _checkSeedBlock[round] = uint64(block.number);
            emit CheckSeedBlockFixed(round, uint64(block.number));
            return;
        }
        if (block.number == seedBlock) revert CheckSeedUnavailable(round, seedBlock);
        bytes32 seed = keccak256(abi.encode(address(this), round, blockhash(seedBlock)));
        _checkSeed[round] = seed;
        emit CheckSeedDrawn(round, seedBlock, seed);
    }

    /// @notice The stored check seed of `round` (0 before it was drawn) and its block (0 before fixed).
    function checkSeed(uint32 round) external view returns (bytes32 seed, uint64 seedBlock) {
        return (_checkSeed[round], _checkSeedBlock[round]);
    }

    /// @notice A committee verifier of `round` challenges the record of head `headIndex`, in the
    /// challenge window: every verifier then checks that cluster in full (docs/d2d-clusters.md). An
    /// unjustified challenge costs bandwidth only; the audit marks it justified or not.
    function challengeCluster(uint32 round, uint16 headIndex) external {
        _requireVerifyCommit(round);
        uint64 opens = recordDeadline(round);
        if (block.timestamp <= opens) revert ChallengeWindowNotOpen(round, opens);
        uint64 closes = challengeDeadline(round);
        if (block.timestamp > closes) revert ChallengeWindowClosed(round, closes);
        if (!task.isVerifier(round, msg.sender)) revert NotCommitteeVerifier(round, msg.sender);
        uint256 bit = uint256(1) << headIndex;
        if (_heads[round] & bit == 0) revert NoClusterRecord(round, headIndex);
        if (_challenged[round] & bit != 0) revert AlreadyChallenged(round, headIndex);
        _challenged[round] |= bit;
        _challenger[round][headIndex] = msg.sender;
        emit ClusterChallenged(round, headIndex, msg.sender);
    }

    /// @notice Heads whose records were challenged in `round` (peer-index bitmap).
    function roundChallenges(uint32 round) external view returns (uint256 challengedHeads) {
        return _challenged[round];
    }

    /// @notice Who challenged the record of head `headIndex` in `round` (zero when nobody did).
    function challengerOf(uint32 round, uint16 headIndex) external view returns (address) {
        return _challenger[round][headIndex];
    }

    /// @dev Reverts unless configured and `round` is the task's current round in VerifyCommit, the
    /// phase in which records, check seeds and challenges are taken.
    function _requireVerifyCommit(uint32 round) private view {
        if (!configured) revert NotConfigured();
        uint32 current = task.currentRound();
        if (round != current) revert WrongRound(round, current);
        (IFederatedTask.Phase phase,,,,,,,,,) = task.getRound(round);
        if (phase != IFederatedTask.Phase.VerifyCommit) revert WrongPhase(round, uint8(phase));
    }

    /// @notice A cluster head records its cluster of `round`: members (peer-index bitmap, itself
    /// included: the members it aggregated over, a subset of its clustering's members when it could
    /// not fetch some), the members it included, and the cluster aggregate's CID.
    function recordCluster(uint32 round, uint256 members, uint256 included, bytes calldata aggregateCid) external {
        _requireVerifyCommit(round);
        uint64 deadline = recordDeadline(round);
        if (block.timestamp > deadline) revert RecordWindowClosed(round, deadline);
        uint16 head = _headIndex(msg.sender);
        if (_heads[round] & (uint256(1) << head) != 0) revert AlreadyRecorded(round, head);
        if (members & (uint256(1) << head) == 0) revert HeadNotInMembers(head, members);
        uint256 size = _popcount(members);
        if (size < 2 || size > _config.maxClusterSize) revert ClusterSizeInvalid(size, _config.maxClusterSize);
        if (included & ~members != 0) revert IncludedNotMembers(included, members);
        if ((included == 0) != (aggregateCid.length == 0)) revert AggregateCidMismatch(included, aggregateCid.length);
        if (aggregateCid.length != 0) CidCodec.decode(aggregateCid);
        uint256 taken = _clustered[round];
        if (taken & members != 0) revert MemberAlreadyClustered(round, _lowestBit(taken & members));
        uint64 samples = _checkMembers(round, members, included);
        _clustered[round] = taken | members;
        _heads[round] |= uint256(1) << head;
        _records[round][head] = Record(members, included, aggregateCid, samples);
        emit ClusterRecorded(round, msg.sender, head, members, included, aggregateCid, samples);
    }

    /// @notice Heads that recorded in `round` and every peer in a recorded cluster (peer-index bitmaps).
    function roundClusters(uint32 round) external view returns (uint256 heads, uint256 clustered) {
        return (_heads[round], _clustered[round]);
    }

    /// @notice The record of head `headIndex` in `round` (members 0 when it did not record).
    function recordOf(uint32 round, uint16 headIndex) external view returns (Record memory) {
        return _records[round][headIndex];
    }

    // ------------------------------------------------------------------ internals

    /// @dev Every member committed in `round`; returns the included members' summed numSamples.
    function _checkMembers(uint32 round, uint256 members, uint256 included) private view returns (uint64 samples) {
        uint256 peerCount = task.peerCount();
        for (uint256 i = 0; i < 256; i++) {
            if (members & (uint256(1) << i) == 0) continue;
            // forge-lint: disable-next-line(unsafe-typecast)
            if (i >= peerCount) revert MemberOutOfRange(uint16(i), peerCount);
            uint8 commitIndex = task.commitIndexOf(round, task.peerAt(i));
            // forge-lint: disable-next-line(unsafe-typecast)
            if (commitIndex == 0) revert MemberNotCommitted(round, uint16(i));
            if (included & (uint256(1) << i) != 0) {
                (,, uint32 numSamples) = task.getCommit(round, commitIndex - 1);
                samples += numSamples;
            }
        }
    }

    function _lowestBit(uint256 x) private pure returns (uint16 i) {
        while (x & 1 == 0) {
            x >>= 1;
            i++;
        }
    }

    function _headIndex(address peer) private view returns (uint16) {
        (, bool registered, bool banned,,,) = task.peerStatus(peer);
        if (!registered) revert NotRegistered(peer);
        if (banned) revert PeerBanned(peer);
        (uint16 peerIndex, uint8 roles, bool active,,,) = task.getPeer(peer);
        if (!active || roles & _TRAINER == 0) revert PeerInactive(peer);
        return peerIndex;
    }

    function _popcount(uint256 x) private pure returns (uint256 n) {
        while (x != 0) {
            x &= x - 1;
            n++;
        }
    }
}
