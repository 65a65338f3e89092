// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {CidCodec} from "./lib/CidCodec.sol";
import {BitSlicedTally, TALLY_PLANES} from "./lib/BitSlicedTally.sol";
import {Bitmap} from "./lib/Bitmap.sol";
import {PeerRegistry} from "./PeerRegistry.sol";
import {Reputation} from "./Reputation.sol";

/// @title FederatedTask — one federated-learning task: admission, rounds, committees, commit–reveal, challenges
/// @notice Implements peerfl's round protocol (docs/protocol.md). A round moves
/// Training → VerifyCommit → VerifyReveal → AggregateCommit → AggregateReveal → Finalized, or to
/// Failed. Deadlines are block timestamps and a window is open while `block.timestamp <= deadline`;
/// every window closes early once everyone expected has acted, and anyone may {advancePhase} after
/// its deadline.
/// - Training closes early once every eligible trainer committed and at least `minTrainers` did;
///   fewer than `minTrainers` commits at close fail the round (reason 1). Closing fixes the
///   committee seed block (this block) and snapshots the eligible verifier and aggregator pools.
/// - Committees are drawn once per round ({selectCommittees}, or lazily by the first verdict or
///   aggregate commit) from the snapshot pools, weighted by (score − threshold + 1) × bond units,
///   with seed keccak256(blockhash(seedBlock), this, round). See {_drawCommittee} for the bias argument.
/// - Verification: committee verifiers commit keccak256(abi.encode(this, round, verifier, mask, salt)),
///   then reveal. An update is accepted when MORE THAN HALF OF THE COMMITTEE SIZE revealed a vote
///   for it, rejected when more than half revealed a vote against it (neither when too few
///   revealed). Trainers are settled right there (also when the round fails later); verifiers gain
///   when their revealed mask equals the accepted mask on every commit, and lose otherwise or when
///   they did not reveal (one change per verifier per round). Nothing accepted fails the round (reason 2).
/// - Aggregation: committee aggregators commit, then reveal (CID, accuracy, epsilon, salt). When
///   the reveal window closes, the (CID, epsilon) revealed by at least `aggregatorQuorumBps` of the
///   committee SIZE finalizes the round; otherwise it fails (reason 3). Aggregators agreeing with
///   the final CID gain, others and non-revealers lose.
/// - A finalized round can be challenged until `challengeDuration` after finalization; the
///   initiator settles (audit by recomputation off-chain). Upheld: the aggregators that revealed
///   the final CID lose their whole bond to the challenger and are banned; the round record itself never changes.
/// @dev Hot paths touch a fixed number of slots; the only loops over peers (≤ 256) run once per
/// round: the committee draw, the verification close (bit-sliced tally + settlement) and the
/// aggregation close (settlement of the aggregator committee).
contract FederatedTask is IFederatedTask, AccessControl, PeerRegistry, Reputation {
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
    uint8 private constant _UPDATE_ACCEPTED = 0;
    uint8 private constant _UPDATE_REJECTED = 1;
    uint8 private constant _VERDICT_AGREED = 2;
    uint8 private constant _VERDICT_DISAGREED = 3;
    uint8 private constant _VERDICT_MISSING = 4;
    uint8 private constant _AGGREGATE_AGREED = 5;
    uint8 private constant _AGGREGATE_DISAGREED = 6;
    uint8 private constant _AGGREGATE_MISSING = 7;
    uint8 private constant _AGGREGATE_PROVEN_WRONG = 8;
    /// @dev Challenge status.
    uint8 private constant _OPEN = 1;
    uint8 private constant _UPHELD = 2;
    uint8 private constant _REJECTED = 3;

    /// @dev Commit records: peer index (8 bits) | CID kind (2 bits) | numSamples (32 bits).
    uint256 private constant _COMMIT_BITS = 42;
    uint256 private constant _COMMITS_PER_SLOT = 6;

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
        Phase phase;
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

    TaskState private _state;
    mapping(uint32 round => Round) private _rounds;
    Challenge[] private _challenges;

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
    /// field that breaks a rule.
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
    /// left too. The roles are revoked for good: {registerPeer} refuses them afterwards.
    function revokeRoles(address peer, uint8 roles) external onlyRole(INITIATOR_ROLE) {
        _revokeRoles(peer, roles);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Initiator only. Reverts with {NotRegistered} for addresses that never registered
    /// (unregistered addresses are kept out by not admitting them). Emits {PeerBanned}(reason 0)
    /// unless already banned. The bond stays held (refundable after the task) unless slashed.
    function banPeer(address peer) external onlyRole(INITIATOR_ROLE) {
        Peer storage p = _peers[peer];
        if (!p.registered) revert NotRegistered(peer);
        _ban(peer, p, BAN_BY_INITIATOR);
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

    // ------------------------------------------------------------------ training

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered}/{PeerIsBanned}, {MissingRole}(trainer = 1),
    /// {TaskNotStarted}/{WrongRound}/{TaskIsCompleted}/{WrongPhase}, {DeadlinePassed},
    /// {AlreadyCommitted}, {ZeroSamples}, {TooManySamples} (above `maxSamplesPerPeer`),
    /// {RoundFull} (255 commits), {ZeroCid}/{InvalidCid} and {DuplicateUpdate} when another commit
    /// of this round has the same CID digest. The last expected commit closes the training window.
    function commitUpdate(uint32 round, bytes calldata cid, uint32 numSamples) external {
        Peer storage peer = _activePeer(msg.sender);
        if (peer.roles & ROLE_TRAINER == 0) revert MissingRole(msg.sender, ROLE_TRAINER);
        uint256 peerIndex = peer.index;
        Round storage rd = _rounds[round];
        _requireOpenWindow(round, rd, Phase.Training);
        if (rd.commitDigest[peerIndex] != 0) revert AlreadyCommitted(round, msg.sender);
        _checkSamples(numSamples);
        uint256 commitIndex = rd.commitCount;
        if (commitIndex >= MAX_COMMITS) revert RoundFull(round, MAX_COMMITS);
        uint8 kind = _storeDigest(rd, round, peerIndex, commitIndex, cid);
        uint256 record = peerIndex | (uint256(kind) << 8) | (uint256(numSamples) << 10);
        rd.commitRecords[commitIndex / _COMMITS_PER_SLOT] |= record << ((commitIndex % _COMMITS_PER_SLOT) * _COMMIT_BITS);
        rd.commitCount = uint8(commitIndex + 1);
        uint16 pending = rd.pending - 1; // the committer is an eligible trainer that had not committed
        rd.pending = pending;
        emit UpdateCommitted(round, msg.sender, uint8(commitIndex), cid, numSamples);

        if (pending == 0 && commitIndex + 1 >= _config.minTrainers) _closeTraining(round, rd);
    }

    // ------------------------------------------------------------------ committees

    /// @inheritdoc IFederatedTask
    /// @dev Anyone. Reverts with {RoundDoesNotExist}, {CommitteesAlreadySelected}, {WrongPhase}
    /// (before training closed, or after the round ended) and {CommitteeSeedUnavailable} while
    /// `block.number <= seedBlock`. If the seed block is older than 256 blocks (its hash is gone),
    /// the seed is re-anchored to the current block ({CommitteeSeedFixed} again) and the draw
    /// happens in a later call. Emits {CommitteesSelected}.
    function selectCommittees(uint32 round) external {
        Round storage rd = _existingRound(round);
        if (rd.selected) revert CommitteesAlreadySelected(round);
        Phase phase = rd.phase;
        if (phase != Phase.VerifyCommit && phase != Phase.AggregateCommit) {
            revert WrongPhase(round, Phase.VerifyCommit, phase);
        }
        uint64 seedBlock = rd.seedBlock;
        if (block.number > seedBlock + 256) {
            rd.seedBlock = uint64(block.number);
            emit CommitteeSeedFixed(round, uint64(block.number), rd.verifierPool, rd.aggregatorPool);
            return;
        }
        _select(round, rd);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist}. Before training closed, or while the seed block's hash
    /// is not available (same block, or older than 256 blocks), returns selected = false and 0 masks.
    function getCommittees(uint32 round)
        public
        view
        returns (bool selected, uint64 seedBlock, uint256 verifierCommittee, uint256 aggregatorCommittee)
    {
        Round storage rd = _existingRound(round);
        seedBlock = rd.seedBlock;
        if (rd.selected) return (true, seedBlock, rd.verifierCommittee, rd.aggregatorCommittee);
        if (seedBlock == 0 || rd.phase == Phase.Failed) return (false, seedBlock, 0, 0);
        bytes32 hash = blockhash(seedBlock);
        if (hash == 0) return (false, seedBlock, 0, 0);
        (verifierCommittee, aggregatorCommittee,) = _draw(round, rd, hash);
    }

    /// @notice The eligible pools snapshotted when training closed (committees are drawn from these).
    /// @dev Reverts with {RoundDoesNotExist}; 0 before training closed.
    function roundPools(uint32 round) external view returns (uint256 verifierPool, uint256 aggregatorPool) {
        Round storage rd = _existingRound(round);
        return (rd.verifierPool, rd.aggregatorPool);
    }

    /// @inheritdoc IFederatedTask
    function isVerifier(uint32 round, address account) external view returns (bool) {
        (, , uint256 committee,) = getCommittees(round);
        return _isMember(committee, account);
    }

    /// @inheritdoc IFederatedTask
    function isAggregator(uint32 round, address account) external view returns (bool) {
        (, , , uint256 committee) = getCommittees(round);
        return _isMember(committee, account);
    }

    // ------------------------------------------------------------------ verification

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered}/{PeerIsBanned}, {MissingRole}(verifier = 2), the window
    /// errors for {Phase-VerifyCommit}, {CommitteeSeedUnavailable} (draws the committees first when
    /// nobody did), {NotInCommittee}, {AlreadyCommitted} and {ZeroCommitment}. The commit of the
    /// last committee member closes the window.
    function commitVerdict(uint32 round, bytes32 commitment) external {
        Peer storage peer = _activePeer(msg.sender);
        if (peer.roles & ROLE_VERIFIER == 0) revert MissingRole(msg.sender, ROLE_VERIFIER);
        uint256 bit = uint256(1) << peer.index;
        Round storage rd = _rounds[round];
        _requireOpenWindow(round, rd, Phase.VerifyCommit);
        if (!rd.selected) _select(round, rd);
        uint256 committee = rd.verifierCommittee;
        if (committee & bit == 0) revert NotInCommittee(round, msg.sender, ROLE_VERIFIER);
        uint256 committed = rd.verdictCommitted;
        if (committed & bit != 0) revert AlreadyCommitted(round, msg.sender);
        if (commitment == 0) revert ZeroCommitment();

        rd.verdicts[peer.index] = uint256(commitment);
        committed |= bit;
        rd.verdictCommitted = committed;
        emit VerdictCommitted(round, msg.sender, commitment);

        if (committed == committee) _closeVerifyCommit(round, rd);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered}/{PeerIsBanned} (a committed verifier that left may still
    /// reveal), the window errors for {Phase-VerifyReveal}, {NotCommitted}, {AlreadyRevealed},
    /// {MaskOutOfRange} (a bit at or above the commit count) and {RevealMismatch} when
    /// keccak256(abi.encode(address(this), round, msg.sender, acceptedMask, salt)) is not the
    /// commitment. The reveal of the last committer closes the window.
    function revealVerdict(uint32 round, uint256 acceptedMask, bytes32 salt) external {
        (Round storage rd, uint256 peerIndex, uint256 committed, uint256 revealed) = _openReveal(round, Phase.VerifyReveal);
        uint256 bit = uint256(1) << peerIndex;
        uint8 commitCount = rd.commitCount;
        if (acceptedMask >> commitCount != 0) revert MaskOutOfRange(acceptedMask, commitCount);
        bytes32 stored = bytes32(rd.verdicts[peerIndex]);
        bytes32 computed = keccak256(abi.encode(address(this), round, msg.sender, acceptedMask, salt));
        if (computed != stored) revert RevealMismatch(round, msg.sender, stored, computed);

        rd.verdicts[peerIndex] = acceptedMask;
        revealed |= bit;
        rd.verdictRevealed = revealed;
        rd.verdictCount += 1;
        emit VerdictRevealed(round, msg.sender, acceptedMask);

        if (revealed == committed) _closeVerification(round, rd);
    }

    // ------------------------------------------------------------------ aggregation

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered}/{PeerIsBanned}, {MissingRole}(aggregator = 4), the window
    /// errors for {Phase-AggregateCommit}, {CommitteeSeedUnavailable}, {NotInCommittee},
    /// {AlreadyCommitted} and {ZeroCommitment}. The commit of the last committee member closes the window.
    function commitAggregate(uint32 round, bytes32 commitment) external {
        Peer storage peer = _activePeer(msg.sender);
        if (peer.roles & ROLE_AGGREGATOR == 0) revert MissingRole(msg.sender, ROLE_AGGREGATOR);
        uint256 bit = uint256(1) << peer.index;
        Round storage rd = _rounds[round];
        _requireOpenWindow(round, rd, Phase.AggregateCommit);
        if (!rd.selected) _select(round, rd);
        uint256 committee = rd.aggregatorCommittee;
        if (committee & bit == 0) revert NotInCommittee(round, msg.sender, ROLE_AGGREGATOR);
        uint256 committed = rd.aggregateCommitted;
        if (committed & bit != 0) revert AlreadyCommitted(round, msg.sender);
        if (commitment == 0) revert ZeroCommitment();

        rd.aggregateDigest[peer.index] = commitment;
        committed |= bit;
        rd.aggregateCommitted = committed;
        emit AggregateCommitted(round, msg.sender, commitment);

        if (committed == committee) _closeAggregateCommit(round, rd);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered}/{PeerIsBanned}, the window errors for
    /// {Phase-AggregateReveal}, {NotCommitted}, {AlreadyRevealed}, {AccuracyOutOfRange} (> 10000),
    /// {ZeroCid}/{InvalidCid} and {RevealMismatch}. The reveal of the last committer closes the
    /// window, finalizing the round when the leading (CID, epsilon) has the quorum.
    function revealAggregate(
        uint32 round,
        bytes calldata cid,
        uint16 accuracyBps,
        uint32 cumulativeEpsilonMilli,
        bytes32 salt
    ) external {
        (Round storage rd, uint256 peerIndex, uint256 committed, uint256 revealed) =
            _openReveal(round, Phase.AggregateReveal);
        if (accuracyBps > 10_000) revert AccuracyOutOfRange(accuracyBps);
        (uint8 kind, bytes32 digest) = CidCodec.decode(cid);
        _checkAggregateReveal(rd, round, peerIndex, cid, accuracyBps, cumulativeEpsilonMilli, salt);

        revealed |= uint256(1) << peerIndex;
        rd.aggregateRevealed = revealed;
        bool agrees = _recordAggregate(rd, peerIndex, kind, digest, accuracyBps, cumulativeEpsilonMilli);
        emit AggregateRevealed(round, msg.sender, cid, accuracyBps, cumulativeEpsilonMilli, agrees);

        if (revealed == committed) _closeAggregation(round, rd);
    }

    // ------------------------------------------------------------------ liveness

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {TaskNotStarted}, {WrongRound} (only the current round can move),
    /// {TaskIsCompleted}, and {DeadlineNotReached} while the window is open and not everyone
    /// expected has acted (Training: all eligible trainers committed and at least minTrainers
    /// did; VerifyCommit / AggregateCommit: every committee member committed; VerifyReveal /
    /// AggregateReveal: every committer revealed).
    function advancePhase(uint32 round) external {
        TaskState memory st = _state;
        if (!st.started) revert TaskNotStarted();
        if (round != st.currentRound) revert WrongRound(round, st.currentRound);
        if (st.completed) revert TaskIsCompleted();
        Round storage rd = _rounds[round];
        Phase phase = rd.phase;
        uint64 deadline = rd.deadline;
        bool done;
        if (phase == Phase.Training) done = rd.pending == 0 && rd.commitCount >= _config.minTrainers;
        else if (phase == Phase.VerifyCommit) done = rd.selected && rd.verdictCommitted == rd.verifierCommittee;
        else if (phase == Phase.VerifyReveal) done = rd.verdictRevealed == rd.verdictCommitted;
        else if (phase == Phase.AggregateCommit) done = rd.selected && rd.aggregateCommitted == rd.aggregatorCommittee;
        else done = rd.aggregateRevealed == rd.aggregateCommitted; // AggregateReveal
        if (!done && block.timestamp <= deadline) revert DeadlineNotReached(round, deadline, uint64(block.timestamp));

        if (phase == Phase.Training) _closeTraining(round, rd);
        else if (phase == Phase.VerifyCommit) _closeVerifyCommit(round, rd);
        else if (phase == Phase.VerifyReveal) _closeVerification(round, rd);
        else if (phase == Phase.AggregateCommit) _closeAggregateCommit(round, rd);
        else _closeAggregation(round, rd);
    }

    // ------------------------------------------------------------------ challenges

    /// @inheritdoc IFederatedTask
    /// @dev Anyone. Reverts with {RoundDoesNotExist}, {NotChallengeable} unless the round is
    /// finalized and `block.timestamp <= ` its challenge deadline (getRound's phaseDeadline), and
    /// {WrongChallengeBond} unless `msg.value` is exactly `bondWei` in bond mode (0 in allow-list
    /// mode). Emits {ChallengeRaised}. The bond is held until {settleChallenge}.
    function challenge(uint32 round) external payable returns (uint256 id) {
        Round storage rd = _existingRound(round);
        Phase phase = rd.phase;
        uint64 deadline = rd.deadline;
        if (phase != Phase.Finalized || block.timestamp > deadline) revert NotChallengeable(round, phase, deadline);
        uint256 required = _config.admissionMode == ADMISSION_BOND ? _config.bondWei : 0;
        if (msg.value != required) revert WrongChallengeBond(msg.value, required);
        id = _challenges.length;
        _challenges.push(Challenge({round: round, status: _OPEN, bond: uint96(msg.value), challenger: msg.sender}));
        _state.openChallenges += 1;
        if (msg.value != 0) _holdChallengeBond(msg.value);
        emit ChallengeRaised(id, round, msg.sender, msg.value);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Initiator only, after recomputing the round's aggregate from its accepted commits
    /// (deterministic aggregation: an honest recomputation yields the same CID). Reverts with
    /// {ChallengeDoesNotExist} or {ChallengeNotOpen}. Upheld: every aggregator that revealed the
    /// final (CID, epsilon) loses reputation (reason 8), its whole bond (to the challenger) and is
    /// banned; the challenge bond is refunded. Rejected: the challenge bond goes to the final
    /// aggregator. The round record never changes. Emits {ChallengeSettled}.
    function settleChallenge(uint256 id, bool upheld) external onlyRole(INITIATOR_ROLE) {
        if (id >= _challenges.length) revert ChallengeDoesNotExist(id);
        Challenge storage c = _challenges[id];
        if (c.status != _OPEN) revert ChallengeNotOpen(id);
        c.status = upheld ? _UPHELD : _REJECTED;
        _state.openChallenges -= 1;
        uint32 round = c.round;
        Round storage rd = _rounds[round];
        address challenger = c.challenger;
        uint256 slashed;
        if (upheld) {
            slashed = _punishFinalAggregators(round, rd, challenger);
            _releaseChallengeBond(challenger, c.bond, true);
        } else {
            _releaseChallengeBond(_peerList[rd.finalAggregator], c.bond, false);
        }
        emit ChallengeSettled(id, round, upheld, slashed);
    }

    /// @notice Challenge `id`: its round, status (1 open, 2 upheld, 3 rejected), bond and challenger.
    /// @dev Reverts with {ChallengeDoesNotExist}.
    function getChallenge(uint256 id) external view returns (uint32 round, uint8 status, uint256 bond, address challenger) {
        if (id >= _challenges.length) revert ChallengeDoesNotExist(id);
        Challenge storage c = _challenges[id];
        return (c.round, c.status, c.bond, c.challenger);
    }

    /// @notice Number of challenges ever raised (ids are 0 .. count - 1) and how many are open.
    function challengeCount() external view returns (uint256 count, uint256 open) {
        return (_challenges.length, _state.openChallenges);
    }

    // ------------------------------------------------------------------ round views

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist} for round 0 and rounds not started yet. `verdictCount`
    /// and `aggregateCount` count REVEALS. `acceptedMask` is set when verification closes;
    /// `finalCid`, `accuracyBps` and `cumulativeEpsilonMilli` once finalized.
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

    /// @notice Progress bitmaps of a round (bit i = peer index i): verdict commits and reveals,
    /// aggregate commits and reveals, and the mask of updates rejected by a committee majority.
    /// @dev Reverts with {RoundDoesNotExist}.
    function getRoundProgress(uint32 round)
        external
        view
        returns (
            uint256 verdictCommitted,
            uint256 verdictRevealed,
            uint256 aggregateCommitted,
            uint256 aggregateRevealed,
            uint256 rejectedMask,
            uint16 pendingTrainers
        )
    {
        Round storage rd = _existingRound(round);
        return (
            rd.verdictCommitted,
            rd.verdictRevealed,
            rd.aggregateCommitted,
            rd.aggregateRevealed,
            rd.rejectedMask,
            rd.phase == Phase.Training ? rd.pending : 0
        );
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
        if (!peer.registered) return 0;
        bytes32 digest = rd.commitDigest[peer.index];
        return digest == 0 ? 0 : uint8(rd.digestSeen[digest]);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist}. The mask is 0 until revealed (the commitment is secret-bound, not a verdict).
    function getVerdict(uint32 round, address verifier)
        external
        view
        returns (bool committed, bool revealed, uint256 acceptedMask)
    {
        Round storage rd = _existingRound(round);
        Peer storage peer = _peers[verifier];
        if (!peer.registered) return (false, false, 0);
        uint256 bit = uint256(1) << peer.index;
        committed = rd.verdictCommitted & bit != 0;
        revealed = rd.verdictRevealed & bit != 0;
        if (revealed) acceptedMask = rd.verdicts[peer.index];
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {RoundDoesNotExist}.
    function getAggregate(uint32 round, address aggregator)
        external
        view
        returns (bool committed, bool revealed, bytes memory cid, uint16 accuracyBps, uint32 cumulativeEpsilonMilli)
    {
        Round storage rd = _existingRound(round);
        Peer storage peer = _peers[aggregator];
        if (!peer.registered) return (false, false, "", 0, 0);
        uint256 bit = uint256(1) << peer.index;
        committed = rd.aggregateCommitted & bit != 0;
        revealed = rd.aggregateRevealed & bit != 0;
        if (!revealed) return (committed, false, "", 0, 0);
        uint256 record = rd.aggregateRecord[peer.index];
        cid = CidCodec.encode(uint8(record), rd.aggregateDigest[peer.index]);
        accuracyBps = uint16(record >> 8);
        cumulativeEpsilonMilli = uint32(record >> 24);
    }

    /// @inheritdoc IFederatedTask
    function verdictCommitment(uint32 round, address verifier, uint256 acceptedMask, bytes32 salt)
        external
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(address(this), round, verifier, acceptedMask, salt));
    }

    /// @inheritdoc IFederatedTask
    function aggregateCommitment(
        uint32 round,
        address aggregator,
        bytes calldata cid,
        uint16 accuracyBps,
        uint32 cumulativeEpsilonMilli,
        bytes32 salt
    ) external view returns (bytes32) {
        return keccak256(abi.encode(address(this), round, aggregator, cid, accuracyBps, cumulativeEpsilonMilli, salt));
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
        rd.pending = _eligibleTrainers;
        _state.currentRound = round;
        emit RoundStarted(round, _globalCidAfter(base), deadline);
    }

    /// @dev Training → VerifyCommit: fix the seed block (this one) and snapshot the pools, so that
    /// nobody can join or leave a pool after seeing the seed.
    function _closeTraining(uint32 round, Round storage rd) private {
        if (rd.commitCount < _config.minTrainers) return _failRound(round, rd, FAIL_TOO_FEW_TRAINERS);
        uint256 verifierPool = _verifierPool;
        uint256 aggregatorPool = _aggregatorPool;
        rd.seedBlock = uint64(block.number);
        rd.verifierPool = verifierPool;
        rd.aggregatorPool = aggregatorPool;
        emit CommitteeSeedFixed(round, uint64(block.number), verifierPool, aggregatorPool);
        _enter(round, rd, Phase.VerifyCommit, _config.verificationDuration);
    }

    function _closeVerifyCommit(uint32 round, Round storage rd) private {
        if (rd.verdictCommitted == 0) {
            // Committee members that were drawn and did not commit count as absent.
            if (rd.selected) _settleVerifiers(round, rd, rd.commitCount, 0);
            return _failRound(round, rd, FAIL_NOTHING_ACCEPTED);
        }
        _enter(round, rd, Phase.VerifyReveal, _config.revealDuration);
    }

    /// @dev Tally the revealed verdicts against the committee size, settle trainers and verifiers.
    function _closeVerification(uint32 round, Round storage rd) private {
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
        emit AcceptedMaskComputed(round, accepted, rejected, rd.verdictCount);
        _settleTrainers(round, rd, accepted, rejected);
        _settleVerifiers(round, rd, commitCount, accepted);
        if (accepted == 0) return _failRound(round, rd, FAIL_NOTHING_ACCEPTED);
        // Members banned by this settlement (or gone) can no longer commit an aggregate: the window
        // stops waiting for them. The quorum still counts against the committee size drawn.
        rd.aggregatorCommittee &= _aggregatorPool;
        _enter(round, rd, Phase.AggregateCommit, _config.aggregationDuration);
    }

    function _closeAggregateCommit(uint32 round, Round storage rd) private {
        if (rd.aggregateCommitted == 0) {
            if (rd.selected) _settleAggregators(round, rd, false);
            return _failRound(round, rd, FAIL_NO_AGGREGATOR_QUORUM);
        }
        _enter(round, rd, Phase.AggregateReveal, _config.revealDuration);
    }

    /// @dev Finalize when the leading (CID, epsilon) was revealed by at least aggregatorQuorumBps
    /// of the committee size (> 1/2 by configuration, so at most one key can qualify), else fail.
    function _closeAggregation(uint32 round, Round storage rd) private {
        uint256 count = rd.leaderCount;
        bool quorum = count != 0
            && count * 10_000 >= uint256(_config.aggregatorQuorumBps) * rd.aggregatorCommitteeSize;
        _settleAggregators(round, rd, quorum);
        if (!quorum) return _failRound(round, rd, FAIL_NO_AGGREGATOR_QUORUM);
        uint16 accuracy = uint16((rd.tallies[rd.leaderKey] >> 16) / count);
        uint32 epsilon = uint32(rd.aggregateRecord[rd.finalAggregator] >> 24);
        uint40 challengeDeadline = uint40(block.timestamp) + _config.challengeDuration;
        rd.phase = Phase.Finalized;
        rd.deadline = challengeDeadline;
        rd.accuracyBps = accuracy;
        rd.cumulativeEpsilonMilli = epsilon;
        _state.lastFinalizedRound = round;
        _state.challengeLockUntil = challengeDeadline;
        emit RoundFinalized(round, _finalCid(rd), rd.acceptedMask, accuracy, epsilon);
        _nextRoundOrComplete(round);
    }

    function _enter(uint32 round, Round storage rd, Phase phase, uint32 duration) private {
        uint40 deadline = uint40(block.timestamp) + duration;
        rd.phase = phase;
        rd.deadline = deadline;
        rd.pending = 0;
        emit PhaseAdvanced(round, phase, deadline);
    }

    function _failRound(uint32 round, Round storage rd, uint8 reason) private {
        rd.phase = Phase.Failed;
        rd.deadline = 0;
        rd.pending = 0;
        emit RoundFailed(round, reason);
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

    // ------------------------------------------------------------------ committee draw

    /// @dev Draw and store the committees; reverts {CommitteeSeedUnavailable} when the seed
    /// block's hash cannot be read (same block, or more than 256 blocks ago: see {selectCommittees}).
    function _select(uint32 round, Round storage rd) private {
        uint64 seedBlock = rd.seedBlock;
        bytes32 hash = blockhash(seedBlock);
        if (hash == 0) revert CommitteeSeedUnavailable(round, seedBlock, uint64(block.number));
        (uint256 verifiers, uint256 aggregators, bytes32 seed) = _draw(round, rd, hash);
        rd.selected = true;
        rd.verifierCommittee = verifiers;
        rd.aggregatorCommittee = aggregators;
        rd.verifierCommitteeSize = uint16(Bitmap.popcount(verifiers));
        rd.aggregatorCommitteeSize = uint16(Bitmap.popcount(aggregators));
        emit CommitteesSelected(round, verifiers, aggregators, seed);
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
        private
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
    function _drawCommittee(uint256 pool, uint256 size, bytes32 seed) private view returns (uint256 committee) {
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
            while (r >= weights[t]) {
                r -= weights[t];
                ++t;
            }
            committee |= uint256(1) << indexes[t];
            total -= weights[t];
            weights[t] = 0;
        }
    }

    function _isMember(uint256 committee, address account) private view returns (bool) {
        Peer storage peer = _peers[account];
        return peer.registered && (committee >> peer.index) & 1 == 1;
    }

    // ------------------------------------------------------------------ settlement

    function _rules() private view returns (ReputationRules memory) {
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
    function _settleTrainers(uint32 round, Round storage rd, uint256 accepted, uint256 rejected) private {
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
    function _settleVerifiers(uint32 round, Round storage rd, uint256 commitCount, uint256 accepted) private {
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
    function _settleAggregators(uint32 round, Round storage rd, bool finalized) private {
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
    function _punishFinalAggregators(uint32 round, Round storage rd, address challenger) private returns (uint256 slashed) {
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

    function _settle(uint32 round, uint256 peerIndex, bool good, uint8 reason, ReputationRules memory rules) private {
        (int32 oldScore, int32 newScore) = _applyOutcome(peerIndex, good, rules);
        address account = _peerList[peerIndex];
        emit ReputationChanged(account, round, oldScore, newScore, reason);
        if (oldScore >= rules.threshold && newScore < rules.threshold) {
            emit PeerExcluded(account, round, newScore);
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
        if (rd.phase != Phase.Training || rd.commitDigest[peer.index] != 0) return;
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

    function _checkInitiator() internal view override {
        _checkRole(INITIATOR_ROLE);
    }

    // ------------------------------------------------------------------ helpers

    /// @dev Leader bookkeeping: a reveal agrees when it carries the leading (CID, epsilon) or is the
    /// first; a strictly larger count takes the lead (and makes the revealer the final aggregator).
    function _recordLeader(Round storage rd, bytes32 key, uint256 count, uint256 peerIndex) private returns (bool agrees) {
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
    ) private returns (bool agrees) {
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

    function _aggregateKey(Round storage rd, uint256 index) private view returns (bytes32) {
        uint256 record = rd.aggregateRecord[index];
        return keccak256(abi.encodePacked(rd.aggregateDigest[index], uint8(record), uint32(record >> 24)));
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

    function _checkSamples(uint32 numSamples) private view {
        if (numSamples == 0) revert ZeroSamples();
        uint32 maxSamples = _config.maxSamplesPerPeer;
        if (numSamples > maxSamples) revert TooManySamples(numSamples, maxSamples);
    }

    /// @dev Refuse a CID digest already committed in this round, then store it for the committer.
    function _storeDigest(Round storage rd, uint32 round, uint256 peerIndex, uint256 commitIndex, bytes calldata cid)
        private
        returns (uint8 kind)
    {
        bytes32 digest;
        (kind, digest) = CidCodec.decode(cid);
        uint256 seen = rd.digestSeen[digest];
        if (seen != 0) revert DuplicateUpdate(round, digest, uint8(seen - 1));
        rd.digestSeen[digest] = commitIndex + 1;
        rd.commitDigest[peerIndex] = digest;
    }

    /// @dev Checks shared by both reveals: a registered, non-banned caller, the open `phase` window,
    /// a commit and no reveal yet. Returns the round, the caller's index and the commit / reveal bitmaps.
    function _openReveal(uint32 round, Phase phase)
        private
        view
        returns (Round storage rd, uint256 peerIndex, uint256 committed, uint256 revealed)
    {
        peerIndex = _memberIndex(msg.sender);
        uint256 bit = uint256(1) << peerIndex;
        rd = _rounds[round];
        _requireOpenWindow(round, rd, phase);
        bool verdict = phase == Phase.VerifyReveal;
        committed = verdict ? rd.verdictCommitted : rd.aggregateCommitted;
        if (committed & bit == 0) revert NotCommitted(round, msg.sender);
        revealed = verdict ? rd.verdictRevealed : rd.aggregateRevealed;
        if (revealed & bit != 0) revert AlreadyRevealed(round, msg.sender);
    }

    function _checkAggregateReveal(
        Round storage rd,
        uint32 round,
        uint256 peerIndex,
        bytes calldata cid,
        uint16 accuracyBps,
        uint32 epsilonMilli,
        bytes32 salt
    ) private view {
        bytes32 stored = rd.aggregateDigest[peerIndex];
        bytes32 computed = keccak256(abi.encode(address(this), round, msg.sender, cid, accuracyBps, epsilonMilli, salt));
        if (computed != stored) revert RevealMismatch(round, msg.sender, stored, computed);
    }

    /// @dev Index of a registered, non-banned peer (reveals are allowed after leaving).
    function _memberIndex(address account) private view returns (uint256) {
        Peer storage peer = _peers[account];
        if (peer.banned) revert PeerIsBanned(account);
        if (!peer.registered) revert NotRegistered(account);
        return peer.index;
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
