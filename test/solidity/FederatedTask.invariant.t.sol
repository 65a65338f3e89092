// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TaskHarness} from "./utils/TaskHarness.sol";
import {FederatedTask} from "../../contracts/FederatedTask.sol";
import {IFederatedTask} from "../../contracts/interfaces/IFederatedTask.sol";

/// @dev Random protocol traffic for the invariant fuzzer: every action is a plausible call by one
/// of a few peers; protocol reverts are expected and swallowed, except for calls that must succeed.
contract ProtocolHandler is TaskHarness {
    mapping(uint32 round => bytes32) public frozen; // round hash when first seen finalized/failed
    uint32 public seenUpTo;
    bool public unexpectedRevert;

    constructor() {
        _deployTask(50);
        task.startTask();
    }

    function taskAddress() external view returns (FederatedTask) {
        return task;
    }

    function register(uint256 who, uint8 rolesSeed) external {
        address peer = actor(who);
        uint8 roles = uint8(1 + rolesSeed % 7);
        bool active;
        try task.getPeer(peer) returns (uint16, uint8, bool isActive, int32, string memory, bytes32) {
            active = isActive;
        } catch {}
        vm.prank(peer);
        try task.registerPeer(roles, "/ip4/127.0.0.1/tcp/1", bytes32(0)) {}
        catch {
            if (!active) unexpectedRevert = true; // registration of a non-active peer must work
        }
        _observe();
    }

    function leave(uint256 who) external {
        vm.prank(actor(who));
        try task.leave() {} catch {}
        _observe();
    }

    function revoke(uint256 who, uint8 rolesSeed) external {
        try task.revokeRoles(actor(who), uint8(1 + rolesSeed % 7)) {} catch {}
        _observe();
    }

    function commit(uint256 who, bytes32 digest, uint32 samples) external {
        uint32 round = task.currentRound();
        vm.prank(actor(who));
        try task.commitUpdate(round, cidOf(digest), samples) {} catch {}
        _observe();
    }

    function verdict(uint256 who, uint256 mask) external {
        uint32 round = task.currentRound();
        (,,, uint8 commits,,,,,,) = task.getRound(round);
        vm.prank(actor(who));
        try task.submitVerdict(round, commits == 0 ? 0 : mask & ((1 << commits) - 1)) {} catch {}
        _observe();
    }

    function aggregate(uint256 who, bool honest, uint32 epsilon) external {
        uint32 round = task.currentRound();
        bytes32 digest = honest ? keccak256(abi.encode("global", round)) : keccak256(abi.encode(who));
        vm.prank(actor(who));
        try task.submitAggregate(round, cidOf(digest), 9000, honest ? 0 : epsilon) {} catch {}
        _observe();
    }

    function advance(uint256 seconds_) external {
        vm.warp(block.timestamp + seconds_ % 150);
        try task.advancePhase(task.currentRound()) {} catch {}
        _observe();
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
        for (uint256 i; i < ACTORS; ++i) handler.verdict(i, type(uint256).max);
        handler.aggregate(0, true, 0);
        handler.aggregate(1, true, 0);
        (IFederatedTask.Phase phase,,,,,,,,,) = task.getRound(1);
        assertEq(uint8(phase), uint8(IFederatedTask.Phase.Finalized), "round 1 finalized");
        assertEq(handler.seenUpTo(), 1, "observed");
    }

    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 50
    function invariant_acceptedMaskWithinCommits() public view {
        uint32 current = task.currentRound();
        for (uint32 r = 1; r <= current; ++r) {
            (,,, uint8 commits,,, uint256 accepted,,,) = task.getRound(r);
            assertEq(commits == 0 ? accepted : accepted >> commits, 0, "accepted mask outside commits");
        }
    }

    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 50
    function invariant_oneCommitPerPeerPerRound() public view {
        uint32 current = task.currentRound();
        for (uint32 r = 1; r <= current; ++r) {
            (,,, uint8 commits,,,,,,) = task.getRound(r);
            for (uint8 i; i < commits; ++i) {
                (address trainer,,) = task.getCommit(r, i);
                assertEq(task.commitIndexOf(r, trainer), uint256(i) + 1, "commit index");
                for (uint8 j; j < i; ++j) {
                    (address other,,) = task.getCommit(r, j);
                    assertTrue(other != trainer, "two commits from one peer");
                }
            }
        }
    }

    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 50
    function invariant_terminalRoundsNeverChange() public view {
        uint32 seen = handler.seenUpTo();
        for (uint32 r = 1; r <= seen; ++r) {
            assertTrue(handler.hashOf(r) == handler.frozen(r), "a finalized or failed round changed");
        }
    }

    /// forge-config: default.invariant.runs = 16
    /// forge-config: default.invariant.depth = 50
    function invariant_registrationAlwaysPossibleForInactivePeers() public view {
        assertTrue(!handler.unexpectedRevert(), "registering an inactive peer reverted");
    }
}
