// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {CidCodec} from "./lib/CidCodec.sol";
import {BitSlicedTally, TALLY_PLANES} from "./lib/BitSlicedTally.sol";
import {Bitmap} from "./lib/Bitmap.sol";
import {PeerRegistry} from "./PeerRegistry.sol";
import {Reputation} from "./Reputation.sol";

/// @title FederatedTaskCore — the storage and internal logic FederatedTask and its facet share
/// @notice Not deployed on its own. {FederatedTask} (the task's address, the hot paths and the
/// views agents call) and {FederatedTaskFacet} (the rarely called, large logic: configuration,
/// phase transitions and settlement, the committee draw, challenges) both inherit this contract,
/// so both see the same storage layout; FederatedTask runs the facet's code with DELEGATECALL on
/// its own storage. Neither of them declares a state variable of its own (the facet's address is
/// an immutable in FederatedTask's code), which keeps the two layouts identical by construction.
/// The protocol itself is documented on {FederatedTask} and in docs/protocol.md.
/// @dev Events and errors are the ones of {IFederatedTask}, emitted and thrown by qualified name,
/// because the facet cannot inherit the interface without implementing all of it.
abstract contract FederatedTaskCore is AccessControl, PeerRegistry, Reputation {
    /// @notice Role allowed to configure and start the task, admit, revoke and ban peers, and settle challenges.
    bytes32 public constant INITIATOR_ROLE = keccak256("INITIATOR_ROLE");
    /// @notice Most commits per round: commit indexes are uint8 and {commitIndexOf} returns index + 1.
    uint256 public constant MAX_COMMITS = 255;
    /// @notice {RoundFailed} reason: fewer than `minTrainers` commits when training closed.
    uint8 public constant FAIL_TOO_FEW_TRAINERS = 1;
    /// @notice {RoundFailed} reason: no verdict was revealed, or no update won a committee majority.
    uint8 public constant FAIL_NOTHING_ACCEPTED = 2;
    /// @notice {RoundFailed} reason: no (CID, epsilon) reached the aggregator quorum.
    uint8 public constant FAIL_NO_AGGREGATOR_QUORUM = 3;

    /// @notice `getCommit` was asked for a commit index the round does not have.
    error CommitDoesNotExist(uint32 round, uint8 index);
    /// @notice `getChallenge` was asked for an id that was never raised.
    error ChallengeDoesNotExist(uint256 id);

    /// @dev {ReputationChanged} reasons.
    uint8 internal constant _UPDATE_ACCEPTED = 0;
    uint8 internal constant _UPDATE_REJECTED = 1;
    uint8 internal constant _VERDICT_AGREED = 2;
    uint8 internal constant _VERDICT_DISAGREED = 3;
    uint8 internal constant _VERDICT_MISSING = 4;
    uint8 internal constant _AGGREGATE_AGREED = 5;
    uint8 internal constant _AGGREGATE_DISAGREED = 6;
    uint8 internal constant _AGGREGATE_MISSING = 7;
    uint8 internal constant _AGGREGATE_PROVEN_WRONG = 8;
    /// @dev Challenge status.
    uint8 internal constant _OPEN = 1;
    uint8 internal constant _UPHELD = 2;
    uint8 internal constant _REJECTED = 3;

    /// @dev Commit records: peer index (8 bits) | CID kind (2 bits) | numSamples (32 bits).
    uint256 internal constant _COMMIT_BITS = 42;
    uint256 internal constant _COMMITS_PER_SLOT = 6;

    struct TaskState {
        bool started;
        bool completed;
        uint32 currentRound;
        uint32 lastFinalizedRound; // 0: the global model is still the initial model
        uint40 challengeLockUntil; // bonds stay slashable until this timestamp
        uint32 openChallenges;
    }

    struct Round {
        // --- header: one slot, read and written by every hot path
        IFederatedTask.Phase phase;
        uint40 deadline; // of the open window; of the challenge window once Finalized
        uint32 baseRound; // the round whose final CID is this round's global model (0: initial model)
        uint8 commitCount;
        uint16 pending; // eligible trainers that still have to commit (Training only)
        uint16 verdictCount; // revealed verdicts
        uint16 aggregateCount; // revealed aggregates
        uint16 leaderCount; // reveals of the most revealed (CID, epsilon) so far
        uint8 finalAggregator; // peer index whose stored aggregate is the leading / final CID
        uint16 accuracyBps;
        uint32 cumulativeEpsilonMilli;
        // --- committee header: one slot
        uint64 seedBlock;
        bool selected;
        uint16 verifierCommitteeSize;
        uint16 aggregatorCommitteeSize;
        // --- bitmaps over peer indexes, one slot each
        uint256 verifierPool;
        uint256 aggregatorPool;
        uint256 verifierCommittee;
        uint256 aggregatorCommittee;
        uint256 verdictCommitted;
        uint256 verdictRevealed;
        uint256 aggregateCommitted;
        uint256 aggregateRevealed;
        uint256 acceptedMask;
        uint256 rejectedMask;
        bytes32 leaderKey;
        mapping(uint256 peerIndex => bytes32 digest) commitDigest;
        mapping(uint256 slotIndex => uint256 packed) commitRecords;
        mapping(bytes32 digest => uint256 commitIndexPlusOne) digestSeen;
        mapping(uint256 peerIndex => uint256 commitmentOrMask) verdicts; // commitment until revealed, then the mask
        mapping(uint256 peerIndex => bytes32 commitmentOrDigest) aggregateDigest; // commitment until revealed, then the CID digest
        mapping(uint256 peerIndex => uint256 packed) aggregateRecord; // kind | accuracy << 8 | epsilon << 24
        mapping(bytes32 key => uint256 packed) tallies; // count | accuracySum << 16
    }

    struct Challenge {
        uint32 round;
        uint8 status;
        uint96 bond;
        address challenger;
    }

    TaskState internal _state;
    mapping(uint32 round => Round) internal _rounds;
    Challenge[] internal _challenges;


    function _startRound(uint32 round) internal {
        uint40 deadline = uint40(block.timestamp) + _config.trainingDuration;
        uint32 base = _state.lastFinalizedRound;
        Round storage rd = _rounds[round];
        rd.phase = IFederatedTask.Phase.Training;
        rd.deadline = deadline;
        rd.baseRound = base;
        rd.pending = _eligibleTrainers;
        _state.currentRound = round;
        emit IFederatedTask.RoundStarted(round, _globalCidAfter(base), deadline);
    }

    /// @dev Training → VerifyCommit: fix the seed block (this one) and snapshot the pools, so that
    /// nobody can join or leave a pool after seeing the seed.
    function _closeTraining(uint32 round, Round storage rd) internal {
        if (rd.commitCount < _config.minTrainers) return _failRound(round, rd, FAIL_TOO_FEW_TRAINERS);
        uint256 verifierPool = _verifierPool;
        uint256 aggregatorPool = _aggregatorPool;
        rd.seedBlock = uint64(block.number);
        rd.verifierPool = verifierPool;
        rd.aggregatorPool = aggregatorPool;
        emit IFederatedTask.CommitteeSeedFixed(round, uint64(block.number), verifierPool, aggregatorPool);
        _enter(round, rd, IFederatedTask.Phase.VerifyCommit, _config.verificationDuration);
    }

    function _closeVerifyCommit(uint32 round, Round storage rd) internal {
        if (rd.verdictCommitted == 0) {
            // Committee members that were drawn and did not commit count as absent.
            if (rd.selected) _settleVerifiers(round, rd, rd.commitCount, 0);
            return _failRound(round, rd, FAIL_NOTHING_ACCEPTED);
        }
        _enter(round, rd, IFederatedTask.Phase.VerifyReveal, _config.revealDuration);
    }

    /// @dev Tally the revealed verdicts against the committee size, settle trainers and verifiers.
    function _closeVerification(uint32 round, Round storage rd) internal {
        uint256 commitCount = rd.commitCount;
        uint256 all = (uint256(1) << commitCount) - 1;
        uint256[TALLY_PLANES] memory accepts;
        uint256[TALLY_PLANES] memory rejects;
        for (uint256 m = rd.verdictRevealed; m != 0; m &= m - 1) {
            uint256 mask = rd.verdicts[Bitmap.lowestIndex(m)];
            BitSlicedTally.add(accepts, mask);
            BitSlicedTally.add(rejects, ~mask & all);
        }
        uint256 majority = uint256(rd.verifierCommitteeSize) / 2 + 1;
        uint256 accepted = BitSlicedTally.atLeast(accepts, majority) & all;
        uint256 rejected = BitSlicedTally.atLeast(rejects, majority) & all;
        rd.acceptedMask = accepted;
        rd.rejectedMask = rejected;
        emit IFederatedTask.AcceptedMaskComputed(round, accepted, rejected, rd.verdictCount);
        _settleTrainers(round, rd, accepted, rejected);
        _settleVerifiers(round, rd, commitCount, accepted);
        if (accepted == 0) return _failRound(round, rd, FAIL_NOTHING_ACCEPTED);
        // Members banned by this settlement (or gone) can no longer commit an aggregate: the window
        // stops waiting for them. The quorum still counts against the committee size drawn.
        rd.aggregatorCommittee &= _aggregatorPool;
        _enter(round, rd, IFederatedTask.Phase.AggregateCommit, _config.aggregationDuration);
    }

    function _closeAggregateCommit(uint32 round, Round storage rd) internal {
        if (rd.aggregateCommitted == 0) {
            if (rd.selected) _settleAggregators(round, rd, false);
            return _failRound(round, rd, FAIL_NO_AGGREGATOR_QUORUM);
        }
        _enter(round, rd, IFederatedTask.Phase.AggregateReveal, _config.revealDuration);
    }

    /// @dev Finalize when the leading (CID, epsilon) was revealed by at least aggregatorQuorumBps
    /// of the committee size (> 1/2 by configuration, so at most one key can qualify), else fail.
    function _closeAggregation(uint32 round, Round storage rd) internal {
        uint256 count = rd.leaderCount;
        bool quorum = count != 0
            && count * 10_000 >= uint256(_config.aggregatorQuorumBps) * rd.aggregatorCommitteeSize;
        _settleAggregators(round, rd, quorum);
        if (!quorum) return _failRound(round, rd, FAIL_NO_AGGREGATOR_QUORUM);
        uint16 accuracy = uint16((rd.tallies[rd.leaderKey] >> 16) / count);
        uint32 epsilon = uint32(rd.aggregateRecord[rd.finalAggregator] >> 24);
        uint40 challengeDeadline = uint40(block.timestamp) + _config.challengeDuration;
        rd.phase = IFederatedTask.Phase.Finalized;
        rd.deadline = challengeDeadline;
        rd.accuracyBps = accuracy;
        rd.cumulativeEpsilonMilli = epsilon;
        _state.lastFinalizedRound = round;
        _state.challengeLockUntil = challengeDeadline;
        emit IFederatedTask.RoundFinalized(round, _finalCid(rd), rd.acceptedMask, accuracy, epsilon);
        _nextRoundOrComplete(round);
    }

    function _enter(uint32 round, Round storage rd, IFederatedTask.Phase phase, uint32 duration) internal {
        uint40 deadline = uint40(block.timestamp) + duration;
        rd.phase = phase;
        rd.deadline = deadline;
        rd.pending = 0;
        emit IFederatedTask.PhaseAdvanced(round, phase, deadline);
    }

    function _failRound(uint32 round, Round storage rd, uint8 reason) internal {
        rd.phase = IFederatedTask.Phase.Failed;
        rd.deadline = 0;
        rd.pending = 0;
        emit IFederatedTask.RoundFailed(round, reason);
        _nextRoundOrComplete(round);
    }

    function _nextRoundOrComplete(uint32 round) internal {
        if (round >= _config.rounds) {
            _state.completed = true;
            emit IFederatedTask.TaskCompleted(round, _globalCidAfter(_state.lastFinalizedRound));
        } else {
            _startRound(round + 1);
        }
    }

    /// @dev Close the open window of `round` (the current round) as its rules say: the transition
    /// {advancePhase} makes after the deadline, and the one the last expected actor's call triggers.
    function _closePhase(uint32 round, Round storage rd) internal {
        IFederatedTask.Phase phase = rd.phase;
        if (phase == IFederatedTask.Phase.Training) _closeTraining(round, rd);
        else if (phase == IFederatedTask.Phase.VerifyCommit) _closeVerifyCommit(round, rd);
        else if (phase == IFederatedTask.Phase.VerifyReveal) _closeVerification(round, rd);
        else if (phase == IFederatedTask.Phase.AggregateCommit) _closeAggregateCommit(round, rd);
        else _closeAggregation(round, rd);
    }

    // ------------------------------------------------------------------ committee draw

    /// @dev Draw and store the committees; reverts {CommitteeSeedUnavailable} when the seed
    /// block's hash cannot be read (same block, or more than 256 blocks ago: see {selectCommittees}).
    function _select(uint32 round, Round storage rd) internal {
        uint64 seedBlock = rd.seedBlock;
        bytes32 hash = blockhash(seedBlock);
        if (hash == 0) revert IFederatedTask.CommitteeSeedUnavailable(round, seedBlock, uint64(block.number));
        (uint256 verifiers, uint256 aggregators, bytes32 seed) = _draw(round, rd, hash);
        rd.selected = true;
        rd.verifierCommittee = verifiers;
        rd.aggregatorCommittee = aggregators;
        rd.verifierCommitteeSize = uint16(Bitmap.popcount(verifiers));
        rd.aggregatorCommitteeSize = uint16(Bitmap.popcount(aggregators));
        emit IFederatedTask.CommitteesSelected(round, verifiers, aggregators, seed);
    }

    /// @dev Both committees of `round` from the seed block's hash.
    /// Randomness: seed = keccak256(blockhash(seedBlock), this, round), where seedBlock is the block
    /// that closed training. Whoever closes training cannot know that block's hash when sending the
    /// transaction (it is the hash of the very block the transaction lands in), the pools were
    /// frozen in that same block, and the weights only change at settlements, so no peer can steer
    /// the draw by joining, leaving or timing. The party that can bias it is the producer of the
    /// seed block: it may withhold the block (one re-draw per withheld block, at the cost of its
    /// reward) and, on chains where block contents are its choice, grind the hash among the blocks
    /// it could build. That is acceptable for committees that only need an honest majority among
    /// many draws, and not for single-winner lotteries; a peer-seed commit–reveal would remove it.
    function _draw(uint32 round, Round storage rd, bytes32 blockHash)
        internal
        view
        returns (uint256 verifiers, uint256 aggregators, bytes32 seed)
    {
        seed = keccak256(abi.encode(blockHash, address(this), round));
        verifiers = _drawCommittee(rd.verifierPool, _config.verifierCommitteeSize, keccak256(abi.encode(seed, "V")));
        aggregators = _drawCommittee(rd.aggregatorPool, _config.aggregatorCommitteeSize, keccak256(abi.encode(seed, "A")));
    }

    /// @dev `size` members of `pool` drawn without replacement with probability proportional to
    /// weight = max(1, score − threshold + 1) × bond units; the whole pool when size is 0 or >= the pool.
    /// O(pool × size) memory work and one reputation / bond-unit slot read per 8 / 32 peers.
    function _drawCommittee(uint256 pool, uint256 size, bytes32 seed) internal view returns (uint256 committee) {
        uint256 n = Bitmap.popcount(pool);
        if (size == 0 || size >= n) return pool;
        uint256[] memory indexes = new uint256[](n);
        uint256[] memory weights = new uint256[](n);
        uint256 total;
        int256 initial = _config.reputationInitial;
        int256 threshold = _config.reputationThreshold;
        uint256 j;
        for (uint256 m = pool; m != 0; m &= m - 1) {
            uint256 index = Bitmap.lowestIndex(m);
            int256 above = initial + _reputationOffset(index) - threshold + 1;
            uint256 weight = (above > 0 ? uint256(above) : 1) * _bondUnitsOf(index);
            if (weight == 0) weight = 1;
            indexes[j] = index;
            weights[j] = weight;
            total += weight;
            ++j;
        }
        for (uint256 draw; draw < size; ++draw) {
            uint256 r = uint256(keccak256(abi.encode(seed, draw))) % total;
            uint256 t;
            // r < total = the sum of the remaining weights, so the walk stops inside the array and
            // r never goes below 0 (the array reads stay bounds-checked).
            unchecked {
                while (r >= weights[t]) {
                    r -= weights[t];
                    ++t;
                }
            }
            committee |= uint256(1) << indexes[t];
            total -= weights[t];
            weights[t] = 0;
        }
    }

    function _isMember(uint256 committee, address account) internal view returns (bool) {
        Peer storage peer = _peers[account];
        return peer.registered && (committee >> peer.index) & 1 == 1;
    }

    // ------------------------------------------------------------------ settlement

    function _rules() internal view returns (ReputationRules memory) {
        StoredConfig storage c = _config;
        return ReputationRules({
            initial: c.reputationInitial,
            reward: c.reputationReward,
            penalty: c.reputationPenalty,
            threshold: c.reputationThreshold,
            max: c.reputationMax
        });
    }

    /// @dev Trainers whose update a committee majority accepted gain, those a majority rejected
    /// lose, the others (no majority either way) keep their score.
    function _settleTrainers(uint32 round, Round storage rd, uint256 accepted, uint256 rejected) internal {
        ReputationRules memory rules = _rules();
        uint256 count = rd.commitCount;
        uint256 word;
        for (uint256 i; i < count; ++i) {
            uint256 slot = i % _COMMITS_PER_SLOT;
            if (slot == 0) word = rd.commitRecords[i / _COMMITS_PER_SLOT];
            bool isAccepted = (accepted >> i) & 1 == 1;
            if (!isAccepted && (rejected >> i) & 1 == 0) continue;
            uint256 peerIndex = (word >> (slot * _COMMIT_BITS)) & 0xff;
            _settle(round, peerIndex, isAccepted, isAccepted ? _UPDATE_ACCEPTED : _UPDATE_REJECTED, rules);
        }
    }

    /// @dev One change per committee verifier: + when its revealed mask equals `accepted` on every
    /// commit, − when it differs anywhere or was not revealed.
    function _settleVerifiers(uint32 round, Round storage rd, uint256 commitCount, uint256 accepted) internal {
        ReputationRules memory rules = _rules();
        uint256 all = (uint256(1) << commitCount) - 1;
        uint256 revealed = rd.verdictRevealed;
        for (uint256 m = rd.verifierCommittee; m != 0; m &= m - 1) {
            uint256 index = Bitmap.lowestIndex(m);
            if ((revealed >> index) & 1 == 0) {
                _settle(round, index, false, _VERDICT_MISSING, rules);
            } else if ((rd.verdicts[index] ^ accepted) & all == 0) {
                _settle(round, index, true, _VERDICT_AGREED, rules);
            } else {
                _settle(round, index, false, _VERDICT_DISAGREED, rules);
            }
        }
    }

    /// @dev One change per committee aggregator. Finalized: + for revealing the final key, − for
    /// another key or no reveal. Failed: − for no reveal only.
    function _settleAggregators(uint32 round, Round storage rd, bool finalized) internal {
        ReputationRules memory rules = _rules();
        uint256 revealed = rd.aggregateRevealed;
        bytes32 winner = rd.leaderKey;
        for (uint256 m = rd.aggregatorCommittee; m != 0; m &= m - 1) {
            uint256 index = Bitmap.lowestIndex(m);
            if ((revealed >> index) & 1 == 0) {
                _settle(round, index, false, _AGGREGATE_MISSING, rules);
            } else if (finalized) {
                bool agrees = _aggregateKey(rd, index) == winner;
                _settle(round, index, agrees, agrees ? _AGGREGATE_AGREED : _AGGREGATE_DISAGREED, rules);
            }
        }
    }

    /// @dev Upheld challenge: every committee aggregator that revealed the final key is proven
    /// wrong — reputation penalty, whole bond to `challenger`, banned.
    function _punishFinalAggregators(uint32 round, Round storage rd, address challenger) internal returns (uint256 slashed) {
        ReputationRules memory rules = _rules();
        uint256 revealed = rd.aggregateRevealed;
        bytes32 winner = rd.leaderKey;
        for (uint256 m = rd.aggregatorCommittee & revealed; m != 0; m &= m - 1) {
            uint256 index = Bitmap.lowestIndex(m);
            if (_aggregateKey(rd, index) != winner) continue;
            address account = _peerList[index];
            Peer storage peer = _peers[account];
            _settle(round, index, false, _AGGREGATE_PROVEN_WRONG, rules);
            slashed += _slash(account, peer, round, type(uint256).max, challenger);
            _ban(account, peer, BAN_SLASHED);
        }
    }

    function _settle(uint32 round, uint256 peerIndex, bool good, uint8 reason, ReputationRules memory rules) internal {
        (int32 oldScore, int32 newScore) = _applyOutcome(peerIndex, good, rules);
        address account = _peerList[peerIndex];
        emit IFederatedTask.ReputationChanged(account, round, oldScore, newScore, reason);
        if (oldScore >= rules.threshold && newScore < rules.threshold) {
            emit IFederatedTask.PeerExcluded(account, round, newScore);
            _ban(account, _peers[account], BAN_LOW_REPUTATION);
        }
    }

    // ------------------------------------------------------------------ registry hooks

    /// @dev Keep the training window's "still has to commit" counter exact when a peer starts or
    /// stops counting as an eligible trainer (register, leave, revoke, ban).
    function _onEligibilityChanged(Peer storage peer, uint8 before, uint8 after_) internal override {
        TaskState memory st = _state;
        if (!st.started || st.completed) return;
        Round storage rd = _rounds[st.currentRound];
        if (rd.phase != IFederatedTask.Phase.Training || rd.commitDigest[peer.index] != 0) return;
        bool was = before & ROLE_TRAINER != 0;
        bool isNow = after_ & ROLE_TRAINER != 0;
        if (isNow && !was) rd.pending += 1;
        else if (was && !isNow) rd.pending -= 1;
    }

    /// @dev A new peer gets its reputation lane (see {Reputation}).
    function _onPeerAdded(uint256 index) internal override {
        _initReputation(index);
    }

    /// @dev Bonds stay slashable until the task completed, the last challenge window closed and
    /// every challenge was settled.
    function _bondsLocked() internal view override returns (bool) {
        TaskState memory st = _state;
        return !st.completed || block.timestamp <= st.challengeLockUntil || st.openChallenges != 0;
    }

    function _taskStarted() internal view override returns (bool) {
        return _state.started;
    }

    // ------------------------------------------------------------------ helpers

    /// @dev Leader bookkeeping: a reveal agrees when it carries the leading (CID, epsilon) or is the
    /// first; a strictly larger count takes the lead (and makes the revealer the final aggregator).
    function _recordLeader(Round storage rd, bytes32 key, uint256 count, uint256 peerIndex) internal returns (bool agrees) {
        uint16 leaderCount = rd.leaderCount;
        if (leaderCount == 0) {
            rd.leaderKey = key;
            rd.leaderCount = uint16(count);
            rd.finalAggregator = uint8(peerIndex);
            return true;
        }
        agrees = rd.leaderKey == key;
        if (agrees) {
            rd.leaderCount = uint16(count);
        } else if (count > leaderCount) {
            rd.leaderKey = key;
            rd.leaderCount = uint16(count);
            rd.finalAggregator = uint8(peerIndex);
        }
    }

    /// @dev Store one revealed aggregate and count it under its (CID, epsilon) key.
    function _recordAggregate(
        Round storage rd,
        uint256 peerIndex,
        uint8 kind,
        bytes32 digest,
        uint16 accuracyBps,
        uint32 epsilonMilli
    ) internal returns (bool agrees) {
        rd.aggregateDigest[peerIndex] = digest;
        rd.aggregateRecord[peerIndex] = kind | (uint256(accuracyBps) << 8) | (uint256(epsilonMilli) << 24);
        bytes32 key = keccak256(abi.encodePacked(digest, kind, epsilonMilli));
        uint256 tally = rd.tallies[key];
        uint256 count = (tally & 0xffff) + 1;
        uint256 accuracySum = (tally >> 16) + accuracyBps;
        rd.tallies[key] = count | (accuracySum << 16);
        rd.aggregateCount += 1;
        agrees = _recordLeader(rd, key, count, peerIndex);
    }

    function _aggregateKey(Round storage rd, uint256 index) internal view returns (bytes32) {
        uint256 record = rd.aggregateRecord[index];
        return keccak256(abi.encodePacked(rd.aggregateDigest[index], uint8(record), uint32(record >> 24)));
    }

    /// @dev Revert unless `round` is the current round, in `expected` phase, with its window open.
    function _requireOpenWindow(uint32 round, Round storage rd, IFederatedTask.Phase expected) internal view {
        IFederatedTask.Phase actual = rd.phase;
        if (actual != expected) {
            // Only the current round can be in an open phase; explain why this one is not.
            TaskState memory st = _state;
            if (!st.started) revert IFederatedTask.TaskNotStarted();
            if (round != st.currentRound) revert IFederatedTask.WrongRound(round, st.currentRound);
            if (st.completed) revert IFederatedTask.TaskIsCompleted();
            revert IFederatedTask.WrongPhase(round, expected, actual);
        }
        uint64 deadline = rd.deadline;
        if (block.timestamp > deadline) revert IFederatedTask.DeadlinePassed(round, deadline, uint64(block.timestamp));
    }

    function _checkSamples(uint32 numSamples) internal view {
        if (numSamples == 0) revert IFederatedTask.ZeroSamples();
        uint32 maxSamples = _config.maxSamplesPerPeer;
        if (numSamples > maxSamples) revert IFederatedTask.TooManySamples(numSamples, maxSamples);
    }

    /// @dev Refuse a CID digest already committed in this round, then store it for the committer.
    function _storeDigest(Round storage rd, uint32 round, uint256 peerIndex, uint256 commitIndex, bytes calldata cid)
        internal
        returns (uint8 kind)
    {
        bytes32 digest;
        (kind, digest) = CidCodec.decode(cid);
        uint256 seen = rd.digestSeen[digest];
        if (seen != 0) revert IFederatedTask.DuplicateUpdate(round, digest, uint8(seen - 1));
        rd.digestSeen[digest] = commitIndex + 1;
        rd.commitDigest[peerIndex] = digest;
    }

    /// @dev Checks shared by both reveals: a registered, non-banned caller, the open `phase` window,
    /// a commit and no reveal yet. Returns the round, the caller's index and the commit / reveal bitmaps.
    function _openReveal(uint32 round, IFederatedTask.Phase phase)
        internal
        view
        returns (Round storage rd, uint256 peerIndex, uint256 committed, uint256 revealed)
    {
        peerIndex = _memberIndex(msg.sender);
        uint256 bit = uint256(1) << peerIndex;
        rd = _rounds[round];
        _requireOpenWindow(round, rd, phase);
        bool verdict = phase == IFederatedTask.Phase.VerifyReveal;
        committed = verdict ? rd.verdictCommitted : rd.aggregateCommitted;
        if (committed & bit == 0) revert IFederatedTask.NotCommitted(round, msg.sender);
        revealed = verdict ? rd.verdictRevealed : rd.aggregateRevealed;
        if (revealed & bit != 0) revert IFederatedTask.AlreadyRevealed(round, msg.sender);
    }

    function _checkAggregateReveal(
        Round storage rd,
        uint32 round,
        uint256 peerIndex,
        bytes calldata cid,
        uint16 accuracyBps,
        uint32 epsilonMilli,
        bytes32 salt
    ) internal view {
        bytes32 stored = rd.aggregateDigest[peerIndex];
        bytes32 computed = keccak256(abi.encode(address(this), round, msg.sender, cid, accuracyBps, epsilonMilli, salt));
        if (computed != stored) revert IFederatedTask.RevealMismatch(round, msg.sender, stored, computed);
    }

    /// @dev Index of a registered, non-banned peer (reveals are allowed after leaving).
    function _memberIndex(address account) internal view returns (uint256) {
        Peer storage peer = _peers[account];
        if (peer.banned) revert IFederatedTask.PeerIsBanned(account);
        if (!peer.registered) revert IFederatedTask.NotRegistered(account);
        return peer.index;
    }

    function _existingRound(uint32 round) internal view returns (Round storage) {
        if (round == 0 || round > _state.currentRound) revert IFederatedTask.RoundDoesNotExist(round);
        return _rounds[round];
    }

    function _commitRecord(Round storage rd, uint256 index) internal view returns (uint256) {
        uint256 word = rd.commitRecords[index / _COMMITS_PER_SLOT];
        return (word >> ((index % _COMMITS_PER_SLOT) * _COMMIT_BITS)) & ((1 << _COMMIT_BITS) - 1);
    }

    /// @dev The global model after `round` was finalized (the initial model for round 0).
    function _globalCidAfter(uint32 round) internal view returns (bytes memory) {
        if (round == 0) return CidCodec.encode(_config.initialModelKind, _config.initialModelDigest);
        return _finalCid(_rounds[round]);
    }

    function _finalCid(Round storage rd) internal view returns (bytes memory) {
        uint256 aggregator = rd.finalAggregator;
        return CidCodec.encode(uint8(rd.aggregateRecord[aggregator]), rd.aggregateDigest[aggregator]);
    }
}
