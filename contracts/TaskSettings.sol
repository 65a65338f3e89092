// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {CidCodec} from "./lib/CidCodec.sol";

/// @title TaskSettings — the task's configuration, validated once and stored packed
/// @notice Holds the {IFederatedTask-TaskConfig} in six storage slots: the two CIDs as digests
/// (their kinds packed beside the other small fields), the durations and committee parameters in
/// one slot, and the fields `commitUpdate` reads (minTrainers, maxSamplesPerPeer) in one slot.
/// @dev Internal only (no external functions): FederatedTask and FederatedTaskFacet both inherit it
/// through FederatedTaskCore and share its storage; each declares the externals it serves.
abstract contract TaskSettings {
    /// @dev Highest robust-rule id (7 = validation vote).
    uint8 internal constant MAX_ROBUST_RULE = 8; // node/protocol/ids.ts: 0 fedavg .. 5 centered clipping, 6 FLAME, 7 validation vote, 8 root validation
    /// @notice {TaskConfig-admissionMode}: the initiator admits addresses ({admit}).
    uint8 public constant ADMISSION_ALLOW_LIST = 0;
    /// @notice {TaskConfig-admissionMode}: anyone may join by posting `bondWei` of ETH.
    uint8 public constant ADMISSION_BOND = 1;

    struct StoredConfig {
        bytes32 modelSpecDigest;
        bytes32 initialModelDigest;
        // --- one slot: durations and committee parameters (read at phase changes)
        uint32 rounds;
        uint32 trainingDuration;
        uint32 verificationDuration;
        uint32 aggregationDuration;
        uint32 revealDuration;
        uint32 challengeDuration;
        uint16 verifierCommitteeSize;
        uint16 aggregatorCommitteeSize;
        uint16 aggregatorQuorumBps;
        uint8 robustRule;
        // --- one slot: what the hot paths and the registry read
        uint16 minTrainers;
        uint32 maxSamplesPerPeer;
        uint16 ruleParam;
        uint8 modelSpecKind;
        uint8 initialModelKind;
        bool configured;
        uint8 admissionMode;
        uint96 bondWei;
        uint16 copyCosineThresholdBps;
        uint32 sampleWeightClipMilli;
        // --- one slot
        uint32 dpClipNormMilli;
        uint32 dpNoiseMultiplierMilli;
        uint32 dpDeltaExponent;
        uint32 dpEpsilonBudgetMilli;
        int32 reputationInitial;
        int32 reputationReward;
        int32 reputationPenalty;
        int32 reputationThreshold;
        // --- one slot
        int32 reputationMax;
    }

    StoredConfig internal _config;

    /// @dev Validate and store `c`; reverts with {InvalidConfig}, {ZeroCid} or {InvalidCid}.
    function _configure(IFederatedTask.TaskConfig calldata c) internal {
        if (_config.configured) revert IFederatedTask.TaskAlreadyConfigured();
        (uint8 specKind, bytes32 specDigest) = CidCodec.decode(c.modelSpecCid);
        (uint8 initialKind, bytes32 initialDigest) = CidCodec.decode(c.initialModelCid);
        _validate(c);

        StoredConfig storage s = _config;
        s.modelSpecDigest = specDigest;
        s.initialModelDigest = initialDigest;
        s.rounds = c.rounds;
        s.trainingDuration = c.trainingDuration;
        s.verificationDuration = c.verificationDuration;
        s.aggregationDuration = c.aggregationDuration;
        s.revealDuration = c.revealDuration;
        s.challengeDuration = c.challengeDuration;
        s.verifierCommitteeSize = c.verifierCommitteeSize;
        s.aggregatorCommitteeSize = c.aggregatorCommitteeSize;
        s.aggregatorQuorumBps = c.aggregatorQuorumBps;
        s.robustRule = c.robustRule;
        s.minTrainers = c.minTrainers;
        s.maxSamplesPerPeer = c.maxSamplesPerPeer;
        s.ruleParam = c.ruleParam;
        s.modelSpecKind = specKind;
        s.initialModelKind = initialKind;
        s.configured = true;
        s.admissionMode = c.admissionMode;
        s.bondWei = c.bondWei;
        s.copyCosineThresholdBps = c.copyCosineThresholdBps;
        s.sampleWeightClipMilli = c.sampleWeightClipMilli;
        s.dpClipNormMilli = c.dpClipNormMilli;
        s.dpNoiseMultiplierMilli = c.dpNoiseMultiplierMilli;
        s.dpDeltaExponent = c.dpDeltaExponent;
        s.dpEpsilonBudgetMilli = c.dpEpsilonBudgetMilli;
        s.reputationInitial = c.reputationInitial;
        s.reputationReward = c.reputationReward;
        s.reputationPenalty = c.reputationPenalty;
        s.reputationThreshold = c.reputationThreshold;
        s.reputationMax = c.reputationMax;
    }

    /// @dev The field-level rules; the error names the first field that breaks one.
    function _validate(IFederatedTask.TaskConfig calldata c) private pure {
        if (c.rounds == 0) revert IFederatedTask.InvalidConfig("rounds");
        if (c.trainingDuration == 0) revert IFederatedTask.InvalidConfig("trainingDuration");
        if (c.verificationDuration == 0) revert IFederatedTask.InvalidConfig("verificationDuration");
        if (c.aggregationDuration == 0) revert IFederatedTask.InvalidConfig("aggregationDuration");
        if (c.revealDuration == 0) revert IFederatedTask.InvalidConfig("revealDuration");
        // A round holds at most 255 commits and a task at most 256 peers: larger values could never be met.
        if (c.minTrainers == 0 || c.minTrainers > 255) revert IFederatedTask.InvalidConfig("minTrainers");
        if (c.verifierCommitteeSize > 256) revert IFederatedTask.InvalidConfig("verifierCommitteeSize");
        if (c.aggregatorCommitteeSize > 256) revert IFederatedTask.InvalidConfig("aggregatorCommitteeSize");
        // More than half: two disjoint groups can never both reach the quorum.
        if (c.aggregatorQuorumBps <= 5_000 || c.aggregatorQuorumBps > 10_000) revert IFederatedTask.InvalidConfig("aggregatorQuorumBps");
        if (c.robustRule > MAX_ROBUST_RULE) revert IFederatedTask.InvalidConfig("robustRule");
        if (c.admissionMode > ADMISSION_BOND) revert IFederatedTask.InvalidConfig("admissionMode");
        if (c.admissionMode == ADMISSION_BOND && c.bondWei == 0) revert IFederatedTask.InvalidConfig("bondWei");
        if (c.maxSamplesPerPeer == 0) revert IFederatedTask.InvalidConfig("maxSamplesPerPeer");
        if (c.copyCosineThresholdBps > 10_000) revert IFederatedTask.InvalidConfig("copyCosineThresholdBps");
        if (c.dpClipNormMilli != 0) {
            // DP on: noise must be added and delta must be a real probability below 1.
            if (c.dpNoiseMultiplierMilli == 0) revert IFederatedTask.InvalidConfig("dpNoiseMultiplierMilli");
            if (c.dpDeltaExponent == 0) revert IFederatedTask.InvalidConfig("dpDeltaExponent");
        }
        if (c.reputationReward < 0) revert IFederatedTask.InvalidConfig("reputationReward");
        if (c.reputationPenalty < 0) revert IFederatedTask.InvalidConfig("reputationPenalty");
        if (c.reputationThreshold > c.reputationInitial) revert IFederatedTask.InvalidConfig("reputationThreshold");
        if (c.reputationInitial > c.reputationMax) revert IFederatedTask.InvalidConfig("reputationInitial");
        // Scores are stored as int32 offsets from reputationInitial (see Reputation); committee
        // weights use score - threshold + 1, which must fit comfortably in a uint32.
        if (int256(c.reputationMax) - int256(c.reputationInitial) > type(int32).max) {
            revert IFederatedTask.InvalidConfig("reputationMax");
        }
        if (int256(c.reputationMax) - int256(c.reputationThreshold) > type(int32).max) {
            revert IFederatedTask.InvalidConfig("reputationMax");
        }
    }

    /// @dev The stored configuration as the {IFederatedTask-TaskConfig} struct (CIDs re-encoded).
    function _taskConfig() internal view returns (IFederatedTask.TaskConfig memory c) {
        StoredConfig storage s = _config;
        c.modelSpecCid = CidCodec.encode(s.modelSpecKind, s.modelSpecDigest);
        c.initialModelCid = CidCodec.encode(s.initialModelKind, s.initialModelDigest);
        c.rounds = s.rounds;
        c.trainingDuration = s.trainingDuration;
        c.verificationDuration = s.verificationDuration;
        c.aggregationDuration = s.aggregationDuration;
        c.revealDuration = s.revealDuration;
        c.challengeDuration = s.challengeDuration;
        c.minTrainers = s.minTrainers;
        c.verifierCommitteeSize = s.verifierCommitteeSize;
        c.aggregatorCommitteeSize = s.aggregatorCommitteeSize;
        c.aggregatorQuorumBps = s.aggregatorQuorumBps;
        c.robustRule = s.robustRule;
        c.ruleParam = s.ruleParam;
        c.admissionMode = s.admissionMode;
        c.bondWei = s.bondWei;
        c.maxSamplesPerPeer = s.maxSamplesPerPeer;
        c.copyCosineThresholdBps = s.copyCosineThresholdBps;
        c.sampleWeightClipMilli = s.sampleWeightClipMilli;
        c.dpClipNormMilli = s.dpClipNormMilli;
        c.dpNoiseMultiplierMilli = s.dpNoiseMultiplierMilli;
        c.dpDeltaExponent = s.dpDeltaExponent;
        c.dpEpsilonBudgetMilli = s.dpEpsilonBudgetMilli;
        c.reputationInitial = s.reputationInitial;
        c.reputationReward = s.reputationReward;
        c.reputationPenalty = s.reputationPenalty;
        c.reputationThreshold = s.reputationThreshold;
        c.reputationMax = s.reputationMax;
    }
}
