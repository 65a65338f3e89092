// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TaskHarness} from "./utils/TaskHarness.sol";
import {IFederatedTask} from "../../contracts/interfaces/IFederatedTask.sol";

/// Fuzz tests of the round protocol's invariants on single scenarios.
contract FederatedTaskFuzzTest is TaskHarness {
    function setUp() public {
        _deployTask(3);
        for (uint256 i; i < ACTORS; ++i) {
            vm.prank(actor(i));
            task.registerPeer(7, "/ip4/127.0.0.1/tcp/1", bytes32(i));
        }
        task.startTask();
    }

    /// A peer commits at most once per round, whatever it sends the second time.
    function testFuzz_oneCommitPerPeerPerRound(uint8 who, bytes32 first, bytes32 second, uint32 samples) public {
        vm.assume(first != 0 && second != 0 && samples != 0);
        address peer = actor(who);
        vm.prank(peer);
        task.commitUpdate(1, cidOf(first), samples);
        vm.prank(peer);
        vm.expectRevert(abi.encodeWithSelector(IFederatedTask.AlreadyCommitted.selector, uint32(1), peer));
        task.commitUpdate(1, cidOf(second), samples);
        assertEq(task.commitIndexOf(1, peer), 1, "index");
        (,,, uint8 count,,,,,,) = task.getRound(1);
        assertEq(count, 1, "one commit");
    }

    /// The accepted mask only holds committed updates and is exactly the strict majority.
    function testFuzz_acceptedMaskIsAStrictMajorityOfCommits(uint8 committersSeed, uint256[ACTORS] memory verdicts)
        public
    {
        uint256 committers = bound(committersSeed, 2, ACTORS);
        for (uint256 i; i < committers; ++i) {
            vm.prank(actor(i));
            task.commitUpdate(1, cidOf(keccak256(abi.encode(i))), 10);
        }
        if (committers < ACTORS) {
            vm.warp(block.timestamp + 101);
            task.advancePhase(1);
        }
        uint256 all = (1 << committers) - 1;
        for (uint256 i; i < ACTORS; ++i) {
            vm.prank(actor(i));
            task.submitVerdict(1, verdicts[i] & all);
        }
        uint256 expected;
        for (uint256 bit; bit < committers; ++bit) {
            uint256 votes;
            for (uint256 i; i < ACTORS; ++i) votes += (verdicts[i] >> bit) & 1;
            if (votes * 2 > ACTORS) expected |= 1 << bit;
        }
        (IFederatedTask.Phase phase,,,,,, uint256 accepted,,,) = task.getRound(1);
        assertEq(accepted & ~all, 0, "subset of commits");
        assertEq(accepted, expected, "strict majority");
        assertEq(uint8(phase), expected == 0 ? uint8(IFederatedTask.Phase.Failed) : uint8(IFederatedTask.Phase.Aggregation), "phase");
    }

    /// Once finalized, nothing done afterwards changes a round's record.
    function testFuzz_finalizedRoundNeverChanges(uint256 actions, bytes32 salt) public {
        _finalizeRound1();
        bytes32 before = roundHash(1);
        uint256 steps = bound(actions, 1, 20);
        for (uint256 s; s < steps; ++s) {
            uint256 r = uint256(keccak256(abi.encode(salt, s)));
            address who = actor(r >> 8);
            uint32 round = uint32(1 + (r >> 16) % 2);
            uint256 op = r % 5;
            if (op == 4) {
                vm.warp(block.timestamp + (r >> 40) % 120);
                continue;
            }
            vm.prank(who);
            if (op == 0) try task.commitUpdate(round, cidOf(keccak256(abi.encode(r))), 1) {} catch {}
            else if (op == 1) try task.submitVerdict(round, (r >> 32) & 0x3f) {} catch {}
            else if (op == 2) try task.submitAggregate(round, cidOf(keccak256("g")), 1, 0) {} catch {}
            else try task.advancePhase(round) {} catch {}
        }
        assertTrue(roundHash(1) == before, "round 1 unchanged");
    }

    function _finalizeRound1() internal {
        for (uint256 i; i < ACTORS; ++i) {
            vm.prank(actor(i));
            task.commitUpdate(1, cidOf(keccak256(abi.encode("u", i))), 10);
        }
        for (uint256 i; i < ACTORS; ++i) {
            vm.prank(actor(i));
            task.submitVerdict(1, (1 << ACTORS) - 1);
        }
        vm.prank(actor(0));
        task.submitAggregate(1, cidOf(keccak256("global-1")), 9000, 0);
        vm.prank(actor(1));
        task.submitAggregate(1, cidOf(keccak256("global-1")), 9000, 0);
        (IFederatedTask.Phase phase,,,,,,,,,) = task.getRound(1);
        assertEq(uint8(phase), uint8(IFederatedTask.Phase.Finalized), "finalized");
    }
}
