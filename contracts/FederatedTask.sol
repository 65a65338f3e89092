// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {CidCodec} from "./lib/CidCodec.sol";
import {BitSlicedTally, TALLY_PLANES} from "./lib/BitSlicedTally.sol";
import {TaskSettings} from "./TaskSettings.sol";
import {PeerRegistry} from "./PeerRegistry.sol";
import {Reputation} from "./Reputation.sol";

/// @title FederatedTask — one federated-learning task: registry, rounds, verdicts, aggregates, reputation
/// @notice Implements peerfl's round protocol (docs: shared/ARCHITECTURE.md). A round moves
/// Training → Verification → Aggregation → Finalized, or to Failed; deadlines are block
/// timestamps and a window is open while `block.timestamp <= deadline`.
/// - Training closes early once every eligible trainer has committed and at least `minTrainers`
///   did (otherwise anyone calls {advancePhase} after the deadline); fewer than `minTrainers`
///   commits at close fail the round (reason 1).
/// - Verification closes once every active verifier voted, or after its deadline. The accepted
///   mask is the set of commits accepted by a strict majority of the verdicts cast; no verdict or
///   an empty mask fails the round (reason 2).
/// - Aggregation finalizes as soon as `aggregatorQuorum` submissions share (CID, epsilon); the
///   round fails (reason 3) if its deadline passes first. Failed rounds count towards `rounds`.
/// Only RoundFinalized / RoundFailed mark the terminal phases (no PhaseAdvanced for them).
/// @dev Hot paths touch a fixed number of slots: a commit writes its digest (one new slot), a
/// 42-bit record packed six per slot and the round header; a verdict writes one slot and the
/// header. Per-phase "still has to act" counters are kept exact by registry hooks, so closing
/// never scans the peers — except the verification close, which tallies the stored verdicts
/// with bit-sliced counters ({BitSlicedTally}).
contract FederatedTask is IFederatedTask, AccessControl, TaskSettings, PeerRegistry, Reputation {
    /// @notice Role allowed to configure and start the task and to revoke peers' roles.
    bytes32 public constant INITIATOR_ROLE = keccak256("INITIATOR_ROLE");
    /// @notice Most commits per round: commit indexes are uint8 and {commitIndexOf} returns index + 1.
    uint256 public constant MAX_COMMITS = 255;
    /// @notice {RoundFailed} reason: fewer than `minTrainers` commits when training closed.
    uint8 public constant FAIL_TOO_FEW_TRAINERS = 1;
    /// @notice {RoundFailed} reason: no verdict was cast, or no update won a strict majority.
    uint8 public constant FAIL_NOTHING_ACCEPTED = 2;
    /// @notice {RoundFailed} reason: no (CID, epsilon) reached `aggregatorQuorum` by the deadline.
    uint8 public constant FAIL_NO_AGGREGATOR_QUORUM = 3;

    /// @notice `getCommit` was asked for a commit index the round does not have.
    error CommitDoesNotExist(uint32 round, uint8 index);

    /// @dev Marks a stored verdict as cast (commit masks never use bit 255: at most 255 commits).
    uint256 private constant _VOTED = 1 << 255;
    /// @dev Commit records: peer index (8 bits) | CID kind (2 bits) | numSamples (32 bits).
    uint256 private constant _COMMIT_BITS = 42;
    uint256 private constant _COMMITS_PER_SLOT = 6;

    struct TaskState {
        bool started;
        bool completed;
        uint32 currentRound;
        uint32 lastFinalizedRound; // 0: the global model is still the initial model
    }

    struct Round {
        // --- header: one slot, read and written by every hot path
        Phase phase;
        uint40 deadline;
        uint32 baseRound; // the round whose final CID is this round's global model (0: initial model)
        uint8 commitCount;
        uint16 pending; // participants of the open window who still have to act
        uint16 verdictCount;
        uint16 aggregateCount;
        uint16 leaderCount; // submissions of the most submitted (CID, epsilon) so far
        uint8 finalAggregator; // peer index whose stored aggregate is the final CID
        uint16 accuracyBps;
        uint32 cumulativeEpsilonMilli;
        // --- other slots
        bytes32 leaderKey;
        uint256 acceptedMask;
        mapping(uint256 peerIndex => bytes32 digest) commitDigest;
        mapping(uint256 slotIndex => uint256 packed) commitRecords;
        mapping(uint256 peerIndex => uint256 maskAndVoted) verdicts;
        mapping(uint256 peerIndex => bytes32 digest) aggregateDigest;
        mapping(uint256 peerIndex => uint256 packed) aggregateRecord; // kind | accuracy << 8 | epsilon << 24
        mapping(bytes32 key => uint256 packed) tallies; // count | accuracySum << 16
    }

    TaskState private _state;
    mapping(uint32 round => Round) private _rounds;

    /// @param initiator receives INITIATOR_ROLE and DEFAULT_ADMIN_ROLE.
    constructor(address initiator) {
        if (initiator == address(0)) revert InvalidConfig("initiator");
        _grantRole(DEFAULT_ADMIN_ROLE, initiator);
        _grantRole(INITIATOR_ROLE, initiator);
    }

    // ------------------------------------------------------------------ task

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with AccessControlUnauthorizedAccount for non-initiators, {TaskAlreadyConfigured}
    /// on a second call, {ZeroCid}/{InvalidCid} for bad CIDs and {InvalidConfig} naming the first
    /// field that breaks a rule (rounds, durations, minTrainers, aggregatorQuorum, robustRule <= 5,
    /// DP parameters, reputationThreshold <= reputationInitial <= reputationMax, reward/penalty >= 0).
    function configureTask(TaskConfig calldata config) external onlyRole(INITIATOR_ROLE) {
        _configure(config);
        emit TaskConfigured(msg.sender, config);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {TaskNotConfigured} or {TaskAlreadyStarted}. Emits TaskStarted then RoundStarted(1).
    function startTask() external onlyRole(INITIATOR_ROLE) {
        if (!_config.configured) revert TaskNotConfigured();
        if (_state.started) revert TaskAlreadyStarted();
        _state.started = true;
        emit TaskStarted(_config.rounds);
        _startRound(1);
    }

    /// @inheritdoc IFederatedTask
    function taskStarted() external view returns (bool) {
        return _state.started;
    }

    /// @inheritdoc IFederatedTask
    function taskCompleted() external view returns (bool) {
        return _state.completed;
    }

    /// @inheritdoc IFederatedTask
    function currentRound() external view returns (uint32) {
        return _state.currentRound;
    }

    /// @inheritdoc IFederatedTask
    /// @dev Empty bytes before the task is configured.
    function latestGlobalModelCid() external view returns (bytes memory) {
        return _globalCidAfter(_state.lastFinalizedRound);
    }

    // ------------------------------------------------------------------ registry

    /// @inheritdoc IFederatedTask
    /// @dev Initiator only. Reverts with {InvalidRoles} or {NotRegistered}. Works on peers that
    /// left too. A trainer or verifier losing its role mid-window stops being waited for.
    function revokeRoles(address peer, uint8 roles) external onlyRole(INITIATOR_ROLE) {
        _revokeRoles(peer, roles);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered} for an address that never registered. `reputation` is
    /// the current score (reputationInitial + the peer's accumulated changes).
    function getPeer(address peer)
        external
        view
        returns (uint16 peerIndex, uint8 roles, bool active, int32 reputation, string memory multiaddr, bytes32 publicKey)
    {
        Peer storage p = _peers[peer];
        if (!p.registered) revert NotRegistered(peer);
        return (p.index, p.roles, p.active, _reputationOf(p.index, _config.reputationInitial), p.multiaddr, p.publicKey);
    }

    // ------------------------------------------------------------------ rounds

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered}, {MissingRole}(trainer = 1), {ReputationTooLow},
    /// {TaskNotStarted}/{WrongRound}/{TaskIsCompleted}/{WrongPhase}, {DeadlinePassed},
    /// {AlreadyCommitted}, {ZeroSamples}, {RoundFull} (255 commits), {ZeroCid}/{InvalidCid}.
    /// The last expected commit closes the training window (see the contract notes).
    function commitUpdate(uint32 round, bytes calldata cid, uint32 numSamples) external {
        Peer storage peer = _activePeer(msg.sender);
        if (peer.roles & ROLE_TRAINER == 0) revert MissingRole(msg.sender, ROLE_TRAINER);
        uint256 peerIndex = peer.index;
        if (peer.excluded) {
            revert ReputationTooLow(
                msg.sender, _reputationOf(peerIndex, _config.reputationInitial), _config.reputationThreshold
            );
        }
        Round storage rd = _rounds[round];
        _requireOpenWindow(round, rd, Phase.Training);
        if (rd.commitDigest[peerIndex] != 0) revert AlreadyCommitted(round, msg.sender);
        if (numSamples == 0) revert ZeroSamples();
        uint256 commitIndex = rd.commitCount;
        if (commitIndex >= MAX_COMMITS) revert RoundFull(round, MAX_COMMITS);
        (uint8 kind, bytes32 digest) = CidCodec.decode(cid);

        rd.commitDigest[peerIndex] = digest;
        uint256 record = peerIndex | (uint256(kind) << 8) | (uint256(numSamples) << 10);
        rd.commitRecords[commitIndex / _COMMITS_PER_SLOT] |= record << ((commitIndex % _COMMITS_PER_SLOT) * _COMMIT_BITS);
        rd.commitCount = uint8(commitIndex + 1);
        uint16 pending = rd.pending - 1; // the committer is an eligible trainer that had not committed
        rd.pending = pending;
        emit UpdateCommitted(round, msg.sender, uint8(commitIndex), cid, numSamples);

        if (pending == 0 && commitIndex + 1 >= _config.minTrainers) _closeTraining(round, rd);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered}, {MissingRole}(verifier = 2), {TaskNotStarted}/
    /// {WrongRound}/{TaskIsCompleted}/{WrongPhase}, {DeadlinePassed}, {AlreadyVoted} and
    /// {MaskOutOfRange} when a bit at or above the round's commit count is set. The verdict of the
    /// last active verifier closes the verification window.
    function submitVerdict(uint32 round, uint256 acceptedMask) external {
        Peer storage peer = _activePeer(msg.sender);
        if (peer.roles & ROLE_VERIFIER == 0) revert MissingRole(msg.sender, ROLE_VERIFIER);
        uint256 peerIndex = peer.index;
        Round storage rd = _rounds[round];
        _requireOpenWindow(round, rd, Phase.Verification);
        if (rd.verdicts[peerIndex] != 0) revert AlreadyVoted(round, msg.sender);
        uint8 commitCount = rd.commitCount;
        if (acceptedMask >> commitCount != 0) revert MaskOutOfRange(acceptedMask, commitCount);

        rd.verdicts[peerIndex] = acceptedMask | _VOTED;
        rd.verdictCount += 1;
        uint16 pending = rd.pending - 1; // the voter is an active verifier that had not voted
        rd.pending = pending;
        emit VerdictSubmitted(round, msg.sender, acceptedMask);

        if (pending == 0) _closeVerification(round, rd);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered}, {MissingRole}(aggregator = 4), {TaskNotStarted}/
    /// {WrongRound}/{TaskIsCompleted}/{WrongPhase}, {DeadlinePassed}, {AlreadySubmitted},
    /// {AccuracyOutOfRange} (> 10000) and {ZeroCid}/{InvalidCid}. Every submission is stored and
    /// emitted; the one that brings a (CID, epsilon) pair to `aggregatorQuorum` finalizes the round
    /// with the mean accuracy of the agreeing submissions.
    function submitAggregate(uint32 round, bytes calldata cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli)
        external
    {
        (Round storage rd, uint256 peerIndex) = _checkAggregateSubmission(round, accuracyBps);
        (uint8 kind, bytes32 digest) = CidCodec.decode(cid);
        (uint256 count, uint256 accuracySum, bool agrees) =
            _recordAggregate(rd, peerIndex, kind, digest, accuracyBps, cumulativeEpsilonMilli);
        emit AggregateSubmitted(round, msg.sender, cid, accuracyBps, cumulativeEpsilonMilli, agrees);

        if (count == _config.aggregatorQuorum) {
            _finalize(round, rd, peerIndex, uint16(accuracySum / count), cumulativeEpsilonMilli);
        }
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {TaskNotStarted}, {WrongRound} (only the current round can move),
    /// {TaskIsCompleted}, and {DeadlineNotReached} while the window is open and not everyone
    /// expected has acted (Training: all eligible trainers committed and at least minTrainers
    /// did; Verification: all active verifiers voted; Aggregation: only the deadline counts).
    function advancePhase(uint32 round) external {
        TaskState memory st = _state;
        if (!st.started) revert TaskNotStarted();
        if (round != st.currentRound) revert WrongRound(round, st.currentRound);
        if (st.completed) revert TaskIsCompleted();
        Round storage rd = _rounds[round];
        Phase phase = rd.phase;
        uint64 deadline = rd.deadline;
        bool expired = block.timestamp > deadline;
        if (phase == Phase.Training) {
            if (!expired && !(rd.pending == 0 && rd.commitCount >= _config.minTrainers)) {
                revert DeadlineNotReached(round, deadline, uint64(block.timestamp));
            }
            _closeTraining(round, rd);
        } else if (phase == Phase.Verification) {
            if (!expired && !(rd.pending == 0 && rd.verdictCount > 0)) {
                revert DeadlineNotReached(round, deadline, uint64(block.timestamp));
            }
            _closeVerification(round, rd);
        } else {
            // Aggregation: the only other phase a current round of a running task can be in.
            if (!expired) revert DeadlineNotReached(round, deadline, uint64(block.timestamp));
            _failRound(round, rd, FAIL_NO_AGGREGATOR_QUORUM);
        }
    }

    // ------------------------------------------------------------------ round views

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist} for round 0 and rounds not started yet. `acceptedMask`
    /// is set when verification closes; `finalCid`, `accuracyBps` and `cumulativeEpsilonMilli`
    /// once the round is finalized (empty / 0 before and for failed rounds).
    function getRound(uint32 round)
        external
        view
        returns (
            Phase phase,
            uint64 phaseDeadline,
            bytes memory globalModelCid,
            uint8 commitCount,
            uint16 verdictCount,
            uint16 aggregateCount,
            uint256 acceptedMask,
            bytes memory finalCid,
            uint16 accuracyBps,
            uint32 cumulativeEpsilonMilli
        )
    {
        Round storage rd = _existingRound(round);
        phase = rd.phase;
        phaseDeadline = rd.deadline;
        globalModelCid = _globalCidAfter(rd.baseRound);
        commitCount = rd.commitCount;
        verdictCount = rd.verdictCount;
        aggregateCount = rd.aggregateCount;
        acceptedMask = rd.acceptedMask;
        if (phase == Phase.Finalized) {
            finalCid = _finalCid(rd);
            accuracyBps = rd.accuracyBps;
            cumulativeEpsilonMilli = rd.cumulativeEpsilonMilli;
        }
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist} or {CommitDoesNotExist}.
    function getCommit(uint32 round, uint8 index)
        external
        view
        returns (address trainer, bytes memory cid, uint32 numSamples)
    {
        Round storage rd = _existingRound(round);
        if (index >= rd.commitCount) revert CommitDoesNotExist(round, index);
        uint256 record = _commitRecord(rd, index);
        uint256 peerIndex = record & 0xff;
        trainer = _peerList[peerIndex];
        cid = CidCodec.encode(uint8((record >> 8) & 3), rd.commitDigest[peerIndex]);
        numSamples = uint32(record >> 10);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist}; 0 for addresses that never registered.
    function commitIndexOf(uint32 round, address trainer) external view returns (uint8) {
        Round storage rd = _existingRound(round);
        Peer storage peer = _peers[trainer];
        if (!peer.registered || rd.commitDigest[peer.index] == 0) return 0;
        uint256 count = rd.commitCount;
        for (uint256 i; i < count; ++i) {
            if (_commitRecord(rd, i) & 0xff == peer.index) return uint8(i + 1);
        }
        return 0; // unreachable: a stored digest always has its record
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist}.
    function getVerdict(uint32 round, address verifier) external view returns (bool voted, uint256 acceptedMask) {
        Round storage rd = _existingRound(round);
        Peer storage peer = _peers[verifier];
        if (!peer.registered) return (false, 0);
        uint256 stored = rd.verdicts[peer.index];
        return (stored != 0, stored & ~_VOTED);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist}.
    function getAggregate(uint32 round, address aggregator)
        external
        view
        returns (bool submitted, bytes memory cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli)
    {
        Round storage rd = _existingRound(round);
        Peer storage peer = _peers[aggregator];
        if (!peer.registered) return (false, "", 0, 0);
        uint256 record = rd.aggregateRecord[peer.index];
        if (record == 0) return (false, "", 0, 0);
        cid = CidCodec.encode(uint8(record), rd.aggregateDigest[peer.index]);
        return (true, cid, uint16(record >> 8), uint32(record >> 24));
    }

    /// @inheritdoc AccessControl
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IFederatedTask).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ transitions

    function _startRound(uint32 round) private {
        uint40 deadline = uint40(block.timestamp) + _config.trainingDuration;
        uint32 base = _state.lastFinalizedRound;
        Round storage rd = _rounds[round];
        rd.phase = Phase.Training;
        rd.deadline = deadline;
        rd.baseRound = base;
        rd.pending = _counts.eligibleTrainers;
        _state.currentRound = round;
        emit RoundStarted(round, _globalCidAfter(base), deadline);
    }

    function _closeTraining(uint32 round, Round storage rd) private {
        if (rd.commitCount < _config.minTrainers) return _failRound(round, rd, FAIL_TOO_FEW_TRAINERS);
        uint40 deadline = uint40(block.timestamp) + _config.verificationDuration;
        rd.phase = Phase.Verification;
        rd.deadline = deadline;
        rd.pending = _counts.activeVerifiers;
        emit PhaseAdvanced(round, Phase.Verification, deadline);
    }

    function _closeVerification(uint32 round, Round storage rd) private {
        uint16 votes = rd.verdictCount;
        if (votes == 0) return _failRound(round, rd, FAIL_NOTHING_ACCEPTED);
        uint256[TALLY_PLANES] memory planes;
        uint256 peers = _peerList.length;
        for (uint256 i; i < peers; ++i) {
            uint256 stored = rd.verdicts[i];
            if (stored != 0) BitSlicedTally.add(planes, stored & ~_VOTED);
        }
        uint256 accepted = BitSlicedTally.strictMajority(planes, votes);
        rd.acceptedMask = accepted;
        emit AcceptedMaskComputed(round, accepted, votes);
        if (accepted == 0) return _failRound(round, rd, FAIL_NOTHING_ACCEPTED);
        uint40 deadline = uint40(block.timestamp) + _config.aggregationDuration;
        rd.phase = Phase.Aggregation;
        rd.deadline = deadline;
        rd.pending = 0;
        emit PhaseAdvanced(round, Phase.Aggregation, deadline);
    }

    function _failRound(uint32 round, Round storage rd, uint8 reason) private {
        rd.phase = Phase.Failed;
        rd.deadline = 0;
        rd.pending = 0;
        emit RoundFailed(round, reason);
        _nextRoundOrComplete(round);
    }

    function _finalize(uint32 round, Round storage rd, uint256 aggregator, uint16 accuracyBps, uint32 epsilonMilli)
        private
    {
        rd.phase = Phase.Finalized;
        rd.deadline = 0;
        rd.finalAggregator = uint8(aggregator);
        rd.accuracyBps = accuracyBps;
        rd.cumulativeEpsilonMilli = epsilonMilli;
        _state.lastFinalizedRound = round;
        uint256 accepted = rd.acceptedMask;
        emit RoundFinalized(round, _finalCid(rd), accepted, accuracyBps, epsilonMilli);
        _updateReputations(round, rd, accepted);
        _nextRoundOrComplete(round);
    }

    function _nextRoundOrComplete(uint32 round) private {
        if (round >= _config.rounds) {
            _state.completed = true;
            emit TaskCompleted(round, _globalCidAfter(_state.lastFinalizedRound));
        } else {
            _startRound(round + 1);
        }
    }

    /// @dev Reward every committer whose update was accepted, penalize the others.
    function _updateReputations(uint32 round, Round storage rd, uint256 accepted) private {
        StoredConfig storage c = _config;
        ReputationRules memory rules = ReputationRules({
            initial: c.reputationInitial,
            reward: c.reputationReward,
            penalty: c.reputationPenalty,
            threshold: c.reputationThreshold,
            max: c.reputationMax
        });
        uint256 count = rd.commitCount;
        uint256 word;
        for (uint256 i; i < count; ++i) {
            uint256 slot = i % _COMMITS_PER_SLOT;
            if (slot == 0) word = rd.commitRecords[i / _COMMITS_PER_SLOT];
            uint256 peerIndex = (word >> (slot * _COMMIT_BITS)) & 0xff;
            _settle(round, peerIndex, (accepted >> i) & 1 == 1, rules);
        }
    }

    function _settle(uint32 round, uint256 peerIndex, bool accepted, ReputationRules memory rules) private {
        (int32 oldScore, int32 newScore) = _applyOutcome(peerIndex, accepted, rules);
        address account = _peerList[peerIndex];
        emit ReputationChanged(account, round, oldScore, newScore, accepted);
        if (oldScore >= rules.threshold && newScore < rules.threshold) {
            _exclude(_peers[account]);
            emit PeerExcluded(account, round, newScore);
        }
    }

    /// @dev Keep the open window's "still has to act" counter exact when a peer starts or stops
    /// counting as an eligible trainer / active verifier (register, leave, revoke, exclusion).
    function _onEligibilityChanged(Peer storage peer, uint8 before, uint8 after_) internal override {
        TaskState memory st = _state;
        if (!st.started || st.completed) return;
        Round storage rd = _rounds[st.currentRound];
        Phase phase = rd.phase;
        uint8 watched;
        if (phase == Phase.Training) {
            if (rd.commitDigest[peer.index] != 0) return;
            watched = COUNTS_AS_TRAINER;
        } else if (phase == Phase.Verification) {
            if (rd.verdicts[peer.index] != 0) return;
            watched = COUNTS_AS_VERIFIER;
        } else {
            return;
        }
        bool was = before & watched != 0;
        bool isNow = after_ & watched != 0;
        if (isNow && !was) rd.pending += 1;
        else if (was && !isNow) rd.pending -= 1;
    }

    /// @dev A new peer gets its reputation lane (see {Reputation}).
    function _onPeerAdded(uint256 index) internal override {
        _initReputation(index);
    }

    /// @dev Leader bookkeeping for {AggregateSubmitted}'s `agreesWithLeader`: a submission agrees
    /// when it carries the leading (CID, epsilon) or is the first; a strictly larger count takes the lead.
    function _recordLeader(Round storage rd, bytes32 key, uint256 count) private returns (bool agrees) {
        uint16 leaderCount = rd.leaderCount;
        if (leaderCount == 0) {
            rd.leaderKey = key;
            rd.leaderCount = uint16(count);
            return true;
        }
        agrees = rd.leaderKey == key;
        if (agrees) {
            rd.leaderCount = uint16(count);
        } else if (count > leaderCount) {
            rd.leaderKey = key;
            rd.leaderCount = uint16(count);
        }
    }

    // ------------------------------------------------------------------ helpers

    function _checkAggregateSubmission(uint32 round, uint16 accuracyBps)
        private
        view
        returns (Round storage rd, uint256 peerIndex)
    {
        Peer storage peer = _activePeer(msg.sender);
        if (peer.roles & ROLE_AGGREGATOR == 0) revert MissingRole(msg.sender, ROLE_AGGREGATOR);
        peerIndex = peer.index;
        rd = _rounds[round];
        _requireOpenWindow(round, rd, Phase.Aggregation);
        if (rd.aggregateRecord[peerIndex] != 0) revert AlreadySubmitted(round, msg.sender);
        if (accuracyBps > 10_000) revert AccuracyOutOfRange(accuracyBps);
    }

    /// @dev Store one aggregate and count it under its (CID, epsilon) key.
    function _recordAggregate(
        Round storage rd,
        uint256 peerIndex,
        uint8 kind,
        bytes32 digest,
        uint16 accuracyBps,
        uint32 epsilonMilli
    ) private returns (uint256 count, uint256 accuracySum, bool agrees) {
        rd.aggregateDigest[peerIndex] = digest;
        rd.aggregateRecord[peerIndex] = kind | (uint256(accuracyBps) << 8) | (uint256(epsilonMilli) << 24);
        bytes32 key = keccak256(abi.encodePacked(digest, kind, epsilonMilli));
        uint256 tally = rd.tallies[key];
        count = (tally & 0xffff) + 1;
        accuracySum = (tally >> 16) + accuracyBps;
        rd.tallies[key] = count | (accuracySum << 16);
        rd.aggregateCount += 1;
        agrees = _recordLeader(rd, key, count);
    }

    /// @dev Revert unless `round` is the current round, in `expected` phase, with its window open.
    function _requireOpenWindow(uint32 round, Round storage rd, Phase expected) private view {
        Phase actual = rd.phase;
        if (actual != expected) {
            // Only the current round can be in an open phase; explain why this one is not.
            TaskState memory st = _state;
            if (!st.started) revert TaskNotStarted();
            if (round != st.currentRound) revert WrongRound(round, st.currentRound);
            if (st.completed) revert TaskIsCompleted();
            revert WrongPhase(round, expected, actual);
        }
        uint64 deadline = rd.deadline;
        if (block.timestamp > deadline) revert DeadlinePassed(round, deadline, uint64(block.timestamp));
    }

    function _existingRound(uint32 round) private view returns (Round storage) {
        if (round == 0 || round > _state.currentRound) revert RoundDoesNotExist(round);
        return _rounds[round];
    }

    function _commitRecord(Round storage rd, uint256 index) private view returns (uint256) {
        uint256 word = rd.commitRecords[index / _COMMITS_PER_SLOT];
        return (word >> ((index % _COMMITS_PER_SLOT) * _COMMIT_BITS)) & ((1 << _COMMIT_BITS) - 1);
    }

    /// @dev The global model after `round` was finalized (the initial model for round 0).
    function _globalCidAfter(uint32 round) private view returns (bytes memory) {
        if (round == 0) return CidCodec.encode(_config.initialModelKind, _config.initialModelDigest);
        return _finalCid(_rounds[round]);
    }

    function _finalCid(Round storage rd) private view returns (bytes memory) {
        uint256 aggregator = rd.finalAggregator;
        return CidCodec.encode(uint8(rd.aggregateRecord[aggregator]), rd.aggregateDigest[aggregator]);
    }
}
