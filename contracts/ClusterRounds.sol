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
/// @dev The task is read through IFederatedTask views only. Peer indices are < 256 (the task's
/// bitmap width), so members and included sets are uint256 bitmaps over peer indices.
contract ClusterRounds {
    /// @notice Clustered-mode parameters (set once by the task's initiator).
    struct Config {
        bytes scenarioCid;          // the radio scenario (JSON on IPFS) the clustering is computed from
        uint16 maxClusterSize;      // head + members (2..32)
        uint16 minHeadBatteryBps;   // battery a head needs, bps of full (node/links/clusters.ts minHeadEnergy)
        uint16 recordWindowBps;     // share of the verify-commit window open for records (1..9000 bps)
    }

    /// @notice One head's record of one round.
    struct Record {
        uint256 members;        // peer-index bitmap: head + members (all committed this round)
        uint256 included;       // subset of members accepted by the rule at cluster level
        bytes aggregateCid;     // the cluster aggregate (empty when nothing was included)
        uint64 acceptedSamples; // sum of the included members' committed numSamples
    }

    bytes32 public constant INITIATOR_ROLE = keccak256("INITIATOR_ROLE");
    uint8 private constant _TRAINER = 1;

    IFederatedTask public immutable task;
    bool public configured;
    Config private _config;
    /// @dev verificationDuration of the task, read once at configuration.
    uint32 public verificationDuration;

    mapping(uint32 round => uint256) private _heads;
    mapping(uint32 round => uint256) private _clustered;
    mapping(uint32 round => mapping(uint16 headIndex => Record)) private _records;

    event ClusterRoundsConfigured(address indexed initiator, Config config);
    event ClusterRecorded(
        uint32 indexed round, address indexed head, uint16 headIndex, uint256 members, uint256 included,
        bytes aggregateCid, uint64 acceptedSamples
    );

    error ZeroTask();
    error NotInitiator(address caller);
    error AlreadyConfigured();
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
        CidCodec.decode(c.scenarioCid);
        if (c.maxClusterSize < 2 || c.maxClusterSize > 32) revert InvalidConfig("maxClusterSize");
        if (c.minHeadBatteryBps > 10000) revert InvalidConfig("minHeadBatteryBps");
        if (c.recordWindowBps == 0 || c.recordWindowBps > 9000) revert InvalidConfig("recordWindowBps");
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

    /// @notice A cluster head records its cluster of `round`: members (peer-index bitmap, itself
    /// included), the members it included, and the cluster aggregate's CID.
    function recordCluster(uint32 round, uint256 members, uint256 included, bytes calldata aggregateCid) external {
        if (!configured) revert NotConfigured();
        uint32 current = task.currentRound();
        if (round != current) revert WrongRound(round, current);
        (IFederatedTask.Phase phase,,,,,,,,,) = task.getRound(round);
        if (phase != IFederatedTask.Phase.VerifyCommit) revert WrongPhase(round, uint8(phase));
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
