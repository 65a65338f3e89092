// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TaskHarness} from "./utils/TaskHarness.sol";
import {FederatedTask} from "../../contracts/FederatedTask.sol";
import {IFederatedTask} from "../../contracts/interfaces/IFederatedTask.sol";

/// @dev Random protocol traffic for the invariant fuzzer: every action is a plausible call by one
/// of a few peers. Protocol refusals are expected: the handler catches a revert only when its
/// selector is one of IFederatedTask's custom errors (or FederatedTask's own) and re-throws
/// anything else (panics, empty reverts, unknown errors), so with failOnRevert those fail the run.
contract ProtocolHandler is TaskHarness {
    mapping(uint32 round => bytes32) public frozen; // round hash when first seen finalized/failed
    uint32 public seenUpTo;
    uint256 public challengeBondsPosted;

    constructor() {
        _deployTask(50);
        task.startTask();
    }

    receive() external payable {}

    function taskAddress() external view returns (FederatedTask) {
        return task;
    }

    function register(uint256 who, uint8 rolesSeed) external {
        address peer = actor(who);
        (,, bool banned,,,) = task.peerStatus(peer);
        (, bool registered,,,,) = task.peerStatus(peer);
        uint256 value = registered ? 0 : BOND;
        vm.deal(peer, value);
        vm.prank(peer);
        try task.registerPeer{value: value}(uint8(1 + rolesSeed % 7), "/ip4/127.0.0.1/tcp/1", bytes32(0)) {}
        catch (bytes memory err) {
            _expected(err);
        }
        banned;
        _observe();
    }

    function leave(uint256 who) external {
        vm.prank(actor(who));
        try task.leave() {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function revoke(uint256 who, uint8 rolesSeed) external {
        try task.revokeRoles(actor(who), uint8(1 + rolesSeed % 7)) {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function commit(uint256 who, bytes32 digest, uint32 samples) external {
        uint32 round = task.currentRound();
        vm.prank(actor(who));
        try task.commitUpdate(round, cidOf(digest), samples % 1200) {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function commitVerdict(uint256 who, uint256 mask) external {
        uint32 round = task.currentRound();
        address peer = actor(who);
        (,,, uint8 commits,,,,,,) = task.getRound(round);
        uint256 m = commits == 0 ? 0 : mask & ((uint256(1) << commits) - 1);
        bytes32 c = task.verdictCommitment(round, peer, m, verdictSalt(round, peer));
        vm.prank(peer);
        try task.commitVerdict(round, c) {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    /// @dev Reveals the mask the peer would have committed for this `mask` seed (mismatches are expected refusals).
    function revealVerdict(uint256 who, uint256 mask) external {
        uint32 round = task.currentRound();
        address peer = actor(who);
        (,,, uint8 commits,,,,,,) = task.getRound(round);
        uint256 m = commits == 0 ? 0 : mask & ((uint256(1) << commits) - 1);
        vm.prank(peer);
        try task.revealVerdict(round, m, verdictSalt(round, peer)) {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function commitAggregate(uint256 who, bool honest) external {
        uint32 round = task.currentRound();
        address peer = actor(who);
        bytes memory cid = _aggregateCid(round, who, honest);
        bytes32 c = task.aggregateCommitment(round, peer, cid, 9000, 0, verdictSalt(round, peer));
        vm.prank(peer);
        try task.commitAggregate(round, c) {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function revealAggregate(uint256 who, bool honest) external {
        uint32 round = task.currentRound();
        address peer = actor(who);
        vm.prank(peer);
        try task.revealAggregate(round, _aggregateCid(round, who, honest), 9000, 0, verdictSalt(round, peer)) {}
        catch (bytes memory err) {
            _expected(err);
        }
        _observe();
    }

    function selectCommittees() external {
        try task.selectCommittees(task.currentRound()) {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function advance(uint256 seconds_, uint8 blocks) external {
        vm.warp(block.timestamp + seconds_ % 150);
        vm.roll(block.number + 1 + blocks % 4);
        try task.advancePhase(task.currentRound()) {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function raiseChallenge(uint32 roundSeed) external {
        uint32 current = task.currentRound();
        uint32 round = current == 0 ? 0 : 1 + roundSeed % current;
        vm.deal(address(this), address(this).balance + BOND);
        try task.challenge{value: BOND}(round) {
            challengeBondsPosted += BOND;
        } catch (bytes memory err) {
            _expected(err);
        }
        _observe();
    }

    function settle(uint256 idSeed, bool upheld) external {
        (uint256 count,) = task.challengeCount();
        if (count == 0) return;
        try task.settleChallenge(idSeed % count, upheld) {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function withdraw(uint256 who) external {
        vm.prank(actor(who));
        try task.withdrawBond() {} catch (bytes memory err) { _expected(err); }
        _observe();
    }

    function _aggregateCid(uint32 round, uint256 who, bool honest) internal pure returns (bytes memory) {
        return cidOf(honest ? keccak256(abi.encode("global", round)) : keccak256(abi.encode(who % ACTORS, round)));
    }

    /// @dev Swallow `err` only when it is a custom error of the protocol; re-throw everything else.
    function _expected(bytes memory err) internal pure {
        bytes4 selector = err.length >= 4 ? bytes4(err) : bytes4(0);
        if (
            selector == IFederatedTask.TaskIsCompleted.selector || selector == IFederatedTask.TaskNotOver.selector
                || selector == IFederatedTask.NotRegistered.selector || selector == IFederatedTask.AlreadyRegistered.selector
                || selector == IFederatedTask.InvalidRoles.selector || selector == IFederatedTask.MissingRole.selector
                || selector == IFederatedTask.PeerIsBanned.selector || selector == IFederatedTask.RolesWereRevoked.selector
                || selector == IFederatedTask.NothingToWithdraw.selector || selector == IFederatedTask.WrongRound.selector
                || selector == IFederatedTask.WrongPhase.selector || selector == IFederatedTask.DeadlinePassed.selector
                || selector == IFederatedTask.DeadlineNotReached.selector || selector == IFederatedTask.AlreadyCommitted.selector
                || selector == IFederatedTask.AlreadyRevealed.selector || selector == IFederatedTask.NotCommitted.selector
                || selector == IFederatedTask.RevealMismatch.selector || selector == IFederatedTask.DuplicateUpdate.selector
                || selector == IFederatedTask.ZeroSamples.selector || selector == IFederatedTask.TooManySamples.selector
                || selector == IFederatedTask.MaskOutOfRange.selector || selector == IFederatedTask.NotInCommittee.selector
                || selector == IFederatedTask.CommitteeSeedUnavailable.selector
                || selector == IFederatedTask.CommitteesAlreadySelected.selector
                || selector == IFederatedTask.RoundDoesNotExist.selector || selector == IFederatedTask.NotChallengeable.selector
                || selector == IFederatedTask.ChallengeNotOpen.selector || selector == IFederatedTask.TaskNotStarted.selector
        ) return;
        assembly {
            revert(add(err, 32), mload(err))
        }
    }

    /// @dev Snapshot every round that reached a terminal phase since the last call.
    function _observe() internal {
        uint32 current = task.currentRound();
        for (uint32 r = seenUpTo + 1; r <= current; ++r) {
            (IFederatedTask.Phase phase,,,,,,,,,) = task.getRound(r);
            if (phase != IFederatedTask.Phase.Finalized && phase != IFederatedTask.Phase.Failed) break;
            frozen[r] = roundHash(r);
            seenUpTo = r;
        }
    }

    function hashOf(uint32 round) external view returns (bytes32) {
        return roundHash(round);
    }
}

contract FederatedTaskInvariantTest is TaskHarness {
    ProtocolHandler internal handler;

    function setUp() public {
        handler = new ProtocolHandler();
        task = handler.taskAddress();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// The handler's actions can drive rounds to finalization (so the invariants see real rounds).
    function test_handlerDrivesARoundToFinalization() public {
        for (uint256 i; i < ACTORS; ++i) handler.register(i, 6); // roles 7
        for (uint256 i; i < ACTORS; ++i) handler.commit(i, keccak256(abi.encode(i)), 5);
        handler.advance(0, 0);
        // Each window closes early once the (3-member) committee acted.
        for (uint256 i; i < ACTORS; ++i) handler.commitVerdict(i, type(uint256).max);
        for (uint256 i; i < ACTORS; ++i) handler.revealVerdict(i, type(uint256).max);
        for (uint256 i; i < ACTORS; ++i) handler.commitAggregate(i, true);
        for (uint256 i; i < ACTORS; ++i) handler.revealAggregate(i, true);
        (IFederatedTask.Phase phase,,,,,,,,,) = task.getRound(1);
        assertEq(uint8(phase), uint8(IFederatedTask.Phase.Finalized), "round 1 finalized");
        assertEq(handler.seenUpTo(), 1, "observed");
        handler.raiseChallenge(0);
        handler.settle(0, true);
        invariant_bondsConserved();
        invariant_terminalRoundsNeverChange();
    }

    /// The training window's pending counter equals a recount of eligible trainers that did not commit.
    function invariant_pendingTrainersEqualRecount() public view {
        uint32 round = task.currentRound();
        if (round == 0 || task.taskCompleted()) return;
        (IFederatedTask.Phase phase,,,,,,,,,) = task.getRound(round);
        if (phase != IFederatedTask.Phase.Training) return;
        (,,,,, uint16 pending) = task.getRoundProgress(round);
        uint256 recount;
        uint256 peers = task.peerCount();
        for (uint256 i; i < peers; ++i) {
            address peer = task.peerAt(i);
            (, uint8 roles, bool active,,,) = task.getPeer(peer);
            (,, bool banned,,,) = task.peerStatus(peer);
            if (active && !banned && roles & 1 != 0 && task.commitIndexOf(round, peer) == 0) ++recount;
        }
        assertEq(pending, recount, "pending trainers");
    }

    /// Scores never exceed reputationMax, and every peer that is not banned is at or above the threshold.
    function invariant_reputationWithinBounds() public view {
        uint256 peers = task.peerCount();
        for (uint256 i; i < peers; ++i) {
            address peer = task.peerAt(i);
            (,,, int32 score,,) = task.getPeer(peer);
            (,, bool banned,,,) = task.peerStatus(peer);
            assertTrue(score <= 20, "above max");
            assertTrue(banned || score >= 0, "below threshold but not banned");
        }
    }

    /// posted == held + refunded + slashed; held == peer bonds + open challenge bonds; balance == held + claimable.
    function invariant_bondsConserved() public view {
        (uint256 posted, uint256 held, uint256 refunded, uint256 slashed, uint256 claimable) = task.bondTotals();
        assertEq(posted, held + refunded + slashed, "posted");
        uint256 sum;
        uint256 peers = task.peerCount();
        for (uint256 i; i < peers; ++i) {
            (,,,, uint256 bond,) = task.peerStatus(task.peerAt(i));
            sum += bond;
        }
        (uint256 count,) = task.challengeCount();
        for (uint256 id; id < count; ++id) {
            (, uint8 status, uint256 bond,) = task.getChallenge(id);
            if (status == 1) sum += bond;
        }
        assertEq(held, sum, "held");
        assertEq(address(task).balance, held + claimable, "balance");
    }

    /// Committee members come from the pools snapshotted when training closed, in the configured number.
    function invariant_committeeMembersAreEligible() public view {
        uint32 current = task.currentRound();
        for (uint32 r = 1; r <= current; ++r) {
            (bool selected,, uint256 verifiers, uint256 aggregators) = task.getCommittees(r);
            if (!selected) continue;
            (uint256 verifierPool, uint256 aggregatorPool) = task.roundPools(r);
            assertEq(verifiers & ~verifierPool, 0, "verifier outside pool");
            assertEq(aggregators & ~aggregatorPool, 0, "aggregator outside pool");
            assertEq(_popcount(verifiers), _min(3, _popcount(verifierPool)), "verifier committee size");
            assertEq(_popcount(aggregators), _min(3, _popcount(aggregatorPool)), "aggregator committee size");
        }
    }

    /// A finalized or failed round never changes afterwards.
    function invariant_terminalRoundsNeverChange() public view {
        uint32 seen = handler.seenUpTo();
        for (uint32 r = 1; r <= seen; ++r) {
            assertTrue(handler.hashOf(r) == handler.frozen(r), "a finalized or failed round changed");
        }
    }

    function _popcount(uint256 x) private pure returns (uint256 n) {
        for (; x != 0; x &= x - 1) ++n;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
