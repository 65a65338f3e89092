// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {CidCodec} from "./lib/CidCodec.sol";
import {FederatedTaskCore} from "./FederatedTaskCore.sol";
import {FederatedTaskFacet} from "./FederatedTaskFacet.sol";

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
///   with seed keccak256(blockhash(seedBlock), this, round). See FederatedTaskCore._draw for the bias argument.
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
/// Size: the task's code is split in two to stay under EIP-170 (24,576 bytes of runtime code)
/// with the ABI above unchanged. This contract holds the hot paths (registration, every commit
/// and reveal) and the views agents read most; {FederatedTaskFacet}, created by the constructor
/// (so one deployment transaction still deploys everything), holds configuration, transitions
/// and settlement, the committee draw, challenges and some views. Both inherit {FederatedTaskCore}
/// (the one storage layout); the functions marked "Forwarded to the facet" run the facet's code with
/// DELEGATECALL on this contract's storage and return or revert with exactly what it returned.
contract FederatedTask is IFederatedTask, FederatedTaskCore {
    /// @dev The facet this task forwards to (its code only: it has no state of its own).
    address private immutable _facet;

    /// @notice OpenZeppelin's Errors.InsufficientBalance, thrown by the payouts of {withdrawBond} and
    /// {claim}. They run in the facet; declared here so that the task's ABI still decodes it.
    error InsufficientBalance(uint256 balance, uint256 needed);
    /// @notice OpenZeppelin's Errors.FailedCall: a payout's recipient refused the ETH (see above).
    error FailedCall();

    /// @param initiator receives INITIATOR_ROLE and DEFAULT_ADMIN_ROLE.
    constructor(address initiator) {
        if (initiator == address(0)) revert InvalidConfig("initiator");
        _grantRole(DEFAULT_ADMIN_ROLE, initiator);
        _grantRole(INITIATOR_ROLE, initiator);
        _facet = address(new FederatedTaskFacet());
    }

    /// @notice Whether {configureTask} has run.
    function taskConfigured() external view returns (bool) {
        return _config.configured;
    }

    /// @inheritdoc IFederatedTask
    function taskConfig() external view returns (TaskConfig memory c) {
        return _taskConfig();
    }

    // ------------------------------------------------------------------ task

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Reverts with AccessControlUnauthorizedAccount for non-initiators, {TaskAlreadyConfigured}
    /// on a second call, {ZeroCid}/{InvalidCid} for bad CIDs and {InvalidConfig} naming the first
    /// field that breaks a rule.
    function configureTask(TaskConfig calldata config) external {
        config; // forwarded as it came: the facet decodes the arguments
        _delegate();
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Reverts with {TaskNotConfigured} or {TaskAlreadyStarted}. Emits TaskStarted then RoundStarted(1).
    function startTask() external {
        _delegate();
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

    // ------------------------------------------------------------------ registry (initiator)

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Initiator only. Reverts with {InvalidRoles} or {NotRegistered}. Works on peers that
    /// left too. The roles are revoked for good: {registerPeer} refuses them afterwards.
    function revokeRoles(address peer, uint8 roles) external {
        (peer, roles); // forwarded as it came
        _delegate();
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Initiator only. Reverts with {NotRegistered} for addresses that never registered
    /// (unregistered addresses are kept out by not admitting them). Emits {PeerBanned}(reason 0)
    /// unless already banned. The bond stays held (refundable after the task) unless slashed.
    function banPeer(address peer) external {
        peer; // forwarded as it came
        _delegate();
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

    // ------------------------------------------------------------------ registry

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {TaskNotConfigured} before configuration (the admission mode is not known),
    /// {InvalidRoles} unless `roles` is a non-zero subset of 0b111, {PeerIsBanned},
    /// {AlreadyRegistered} while active, {RolesWereRevoked} when asking for a revoked role,
    /// {NotAdmitted} (allow-list mode, not admitted), {UnexpectedPayment} (allow-list mode with
    /// value, or bond mode with value on a re-registration), {BondTooLow} (bond mode, first
    /// registration below `bondWei`) and {TooManyPeers}. Emits {BondPosted} then {PeerRegistered}.
    function registerPeer(uint8 roles, string calldata multiaddr, bytes32 publicKey) external payable {
        _registerPeer(roles, multiaddr, publicKey);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered} unless the caller is registered and active.
    function updateMultiaddr(string calldata multiaddr) external {
        _updateMultiaddr(multiaddr);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with {NotRegistered} unless the caller is registered and active. The peer's
    /// commits, verdicts and aggregates stay on record; it stops counting as a participant; its
    /// bond stays held (see {withdrawBond}).
    function leave() external {
        _leave();
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Initiator only. Emits {PeerAdmitted} per newly admitted address. Works in
    /// bond mode too (it has no effect there), so the list can be prepared before the task is configured.
    function admit(address[] calldata accounts) external {
        accounts; // forwarded as it came
        _delegate();
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Reverts with {TaskNotOver} while bonds can still be slashed (task running, a
    /// challenge window open or a challenge unsettled; a task that never started releases bonds of
    /// peers that left) and with {NothingToWithdraw} when the caller holds no bond. Pays with a
    /// plain call (reentrancy-guarded, state cleared first). Emits {BondRefunded}.
    function withdrawBond() external {
        _delegate();
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Reverts with {NothingToWithdraw} when nothing is credited. Emits {PayoutClaimed}.
    function claim() external {
        _delegate();
    }

    /// @inheritdoc IFederatedTask
    function peerCount() external view returns (uint256) {
        return _peerList.length;
    }

    /// @inheritdoc IFederatedTask
    /// @dev Reverts with a Solidity panic (0x32) when `index >= peerCount()`.
    function peerAt(uint256 index) external view returns (address) {
        return _peerList[index];
    }

    /// @inheritdoc IFederatedTask
    function peerStatus(address account)
        external
        view
        returns (bool admitted, bool registered, bool banned, uint8 revokedRoles, uint256 bond, uint256 claimable)
    {
        Peer storage p = _peers[account];
        return (_admitted[account], p.registered, p.banned, p.revokedRoles, p.bond, _claimable[account]);
    }

    /// @notice Bond bookkeeping in wei: `posted` == `held` + `refunded` + `slashed`; the contract
    /// balance is `held` + `claimableTotal` (credited payouts not yet claimed).
    function bondTotals()
        external
        view
        returns (uint256 posted, uint256 held, uint256 refunded, uint256 slashed, uint256 claimableTotal)
    {
        BondBook memory b = _bonds;
        return (b.posted, b.held, b.refunded, b.slashed, _claimableTotal);
    }

    /// @notice The live pools committees are drawn from (bit i = peer index i eligible).
    function eligiblePools() external view returns (uint256 verifierPool, uint256 aggregatorPool, uint16 eligibleTrainers) {
        return (_verifierPool, _aggregatorPool, _eligibleTrainers);
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

        if (pending == 0 && commitIndex + 1 >= _config.minTrainers) _closeInFacet(round);
    }

    // ------------------------------------------------------------------ committees

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Anyone. Reverts with {RoundDoesNotExist}, {CommitteesAlreadySelected}, {WrongPhase}
    /// (before training closed, or after the round ended) and {CommitteeSeedUnavailable} while
    /// `block.number <= seedBlock`. If the seed block is older than 256 blocks (its hash is gone),
    /// the seed is re-anchored to the current block ({CommitteeSeedFixed} again) and the draw
    /// happens in a later call. Emits {CommitteesSelected}.
    function selectCommittees(uint32 round) external {
        round; // forwarded as it came
        _delegate();
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Reverts with {RoundDoesNotExist}. Before training closed, or while the seed block's hash
    /// is not available (same block, or older than 256 blocks), returns selected = false and 0 masks.
    function getCommittees(uint32 round)
        external
        view
        returns (bool selected, uint64 seedBlock, uint256 verifierCommittee, uint256 aggregatorCommittee)
    {
        round; // forwarded as it came
        _delegateView();
        (selected, seedBlock, verifierCommittee, aggregatorCommittee) = (false, 0, 0, 0); // not reached: _delegateView returns
    }

    /// @notice The eligible pools snapshotted when training closed (committees are drawn from these).
    /// @dev Reverts with {RoundDoesNotExist}; 0 before training closed.
    function roundPools(uint32 round) external view returns (uint256 verifierPool, uint256 aggregatorPool) {
        Round storage rd = _existingRound(round);
        return (rd.verifierPool, rd.aggregatorPool);
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet.
    function isVerifier(uint32 round, address account) external view returns (bool) {
        (round, account); // forwarded as it came
        _delegateView();
        return false; // not reached: _delegateView returns
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet.
    function isAggregator(uint32 round, address account) external view returns (bool) {
        (round, account); // forwarded as it came
        _delegateView();
        return false; // not reached: _delegateView returns
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
        if (!rd.selected) _drawInFacet(round);
        uint256 committee = rd.verifierCommittee;
        if (committee & bit == 0) revert NotInCommittee(round, msg.sender, ROLE_VERIFIER);
        uint256 committed = rd.verdictCommitted;
        if (committed & bit != 0) revert AlreadyCommitted(round, msg.sender);
        if (commitment == 0) revert ZeroCommitment();

        rd.verdicts[peer.index] = uint256(commitment);
        committed |= bit;
        rd.verdictCommitted = committed;
        emit VerdictCommitted(round, msg.sender, commitment);

        if (committed == committee) _closeInFacet(round);
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

        if (revealed == committed) _closeInFacet(round);
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
        if (!rd.selected) _drawInFacet(round);
        uint256 committee = rd.aggregatorCommittee;
        if (committee & bit == 0) revert NotInCommittee(round, msg.sender, ROLE_AGGREGATOR);
        uint256 committed = rd.aggregateCommitted;
        if (committed & bit != 0) revert AlreadyCommitted(round, msg.sender);
        if (commitment == 0) revert ZeroCommitment();

        rd.aggregateDigest[peer.index] = commitment;
        committed |= bit;
        rd.aggregateCommitted = committed;
        emit AggregateCommitted(round, msg.sender, commitment);

        if (committed == committee) _closeInFacet(round);
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

        if (revealed == committed) _closeInFacet(round);
    }

    // ------------------------------------------------------------------ liveness

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Reverts with {TaskNotStarted}, {WrongRound} (only the current round can move),
    /// {TaskIsCompleted}, and {DeadlineNotReached} while the window is open and not everyone
    /// expected has acted (Training: all eligible trainers committed and at least minTrainers
    /// did; VerifyCommit / AggregateCommit: every committee member committed; VerifyReveal /
    /// AggregateReveal: every committer revealed).
    function advancePhase(uint32 round) external {
        round; // forwarded as it came
        _delegate();
    }

    // ------------------------------------------------------------------ challenges

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Anyone. Reverts with {RoundDoesNotExist}, {NotChallengeable} unless the round is
    /// finalized and `block.timestamp <= ` its challenge deadline (getRound's phaseDeadline), and
    /// {WrongChallengeBond} unless `msg.value` is exactly `bondWei` in bond mode (0 in allow-list
    /// mode). Emits {ChallengeRaised}. The bond is held until {settleChallenge}.
    function challenge(uint32 round) external payable returns (uint256 id) {
        (round, id); // forwarded as it came; the facet returns the id
        _delegate();
    }

    /// @inheritdoc IFederatedTask
    /// @dev Forwarded to the facet. Initiator only, after recomputing the round's aggregate from its accepted commits
    /// (deterministic aggregation: an honest recomputation yields the same CID). Reverts with
    /// {ChallengeDoesNotExist} or {ChallengeNotOpen}. Upheld: every aggregator that revealed the
    /// final (CID, epsilon) loses reputation (reason 8), its whole bond (to the challenger) and is
    /// banned; the challenge bond is refunded. Rejected: the challenge bond goes to the final
    /// aggregator. The round record never changes. Emits {ChallengeSettled}.
    function settleChallenge(uint256 id, bool upheld) external {
        (id, upheld); // forwarded as it came
        _delegate();
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

    // ------------------------------------------------------------------ forwarding to the facet

    /// @dev Run this call's calldata in the facet (DELEGATECALL: this contract's storage, the
    /// caller's msg.sender and msg.value) and end the call with the facet's return or revert data.
    /// Memory from 0 is overwritten: nothing runs in this contract afterwards.
    function _delegate() private {
        address target = _facet;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), target, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    /// @dev {_delegate} for view functions. A view function may not DELEGATECALL in Solidity's type
    /// system, so the pointer is re-typed as view; at run time the forwarded view functions only
    /// read, and under STATICCALL (eth_call of a view, calls from other contracts' views) the EVM
    /// itself refuses any write, so the view promise holds.
    function _delegateView() private view {
        function() internal nonView = _delegate;
        function() internal view asView;
        assembly {
            asView := nonView
        }
        asView();
    }

    /// @dev Close the open window of `round` in the facet (the last expected actor just acted).
    function _closeInFacet(uint32 round) private {
        _callFacet(abi.encodeCall(FederatedTaskFacet.closePhase, (round)));
    }

    /// @dev Draw the committees of `round` in the facet (first verdict or aggregate commit).
    function _drawInFacet(uint32 round) private {
        _callFacet(abi.encodeCall(FederatedTaskFacet.drawCommittees, (round)));
    }

    /// @dev DELEGATECALL the facet with `data`; a revert bubbles up with the facet's revert data.
    function _callFacet(bytes memory data) private {
        (bool ok, bytes memory returned) = _facet.delegatecall(data);
        if (!ok) {
            assembly {
                revert(add(returned, 32), mload(returned))
            }
        }
    }
}
