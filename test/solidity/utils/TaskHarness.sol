// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./TestBase.sol";
import {FederatedTask} from "../../../contracts/FederatedTask.sol";
import {IFederatedTask} from "../../../contracts/interfaces/IFederatedTask.sol";

/// @dev Deploys a configured FederatedTask (bond mode, committees of 3) driven by `ACTORS` fixed peer addresses.
abstract contract TaskHarness is TestBase {
    uint256 internal constant ACTORS = 6;
    uint96 internal constant BOND = 1 ether;
    FederatedTask internal task;

    function _deployTask(uint32 rounds) internal {
        task = new FederatedTask(address(this));
        task.configureTask(_config(rounds));
    }

    function _config(uint32 rounds) internal pure returns (IFederatedTask.TaskConfig memory c) {
        c.modelSpecCid = cidOf(keccak256("spec"));
        c.initialModelCid = cidOf(keccak256("initial"));
        c.rounds = rounds;
        c.trainingDuration = 100;
        c.verificationDuration = 50;
        c.aggregationDuration = 50;
        c.revealDuration = 40;
        c.challengeDuration = 60;
        c.minTrainers = 2;
        c.verifierCommitteeSize = 3;
        c.aggregatorCommitteeSize = 3;
        c.aggregatorQuorumBps = 6667;
        c.robustRule = 2;
        c.ruleParam = 1;
        c.admissionMode = 1;
        c.bondWei = BOND;
        c.maxSamplesPerPeer = 1000;
        c.dpDeltaExponent = 5;
        c.reputationInitial = 10;
        c.reputationReward = 1;
        c.reputationPenalty = 4;
        c.reputationThreshold = 0;
        c.reputationMax = 20;
    }

    function actor(uint256 seed) internal pure returns (address) {
        return address(uint160(0xA11CE000 + (seed % ACTORS)));
    }

    function cidOf(bytes32 digest) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x01), uint8(0x55), uint8(0x12), uint8(0x20), digest);
    }

    function verdictSalt(uint32 round, address who) internal pure returns (bytes32) {
        return keccak256(abi.encode("v", round, who));
    }

    /// @dev Everything getRound returns, hashed (used to prove a round never changes).
    function roundHash(uint32 round) internal view returns (bytes32) {
        (
            IFederatedTask.Phase phase,
            uint64 deadline,
            bytes memory globalCid,
            uint8 commitCount,
            uint16 verdictCount,
            uint16 aggregateCount,
            uint256 acceptedMask,
            bytes memory finalCid,
            uint16 accuracyBps,
            uint32 epsilon
        ) = task.getRound(round);
        bytes32 h = keccak256(abi.encode(phase, deadline, globalCid, commitCount, verdictCount, aggregateCount));
        h = keccak256(abi.encode(h, acceptedMask, finalCid, accuracyBps, epsilon));
        return keccak256(abi.encode(h, committeesHash(round)));
    }

    function committeesHash(uint32 round) internal view returns (bytes32) {
        (bool selected,, uint256 v, uint256 a) = task.getCommittees(round);
        return keccak256(abi.encode(selected, v, a));
    }
}
