// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {CidCodec} from "./lib/CidCodec.sol";

/// @title TaskSettings — the task's configuration, validated once and stored packed
/// @notice Holds the {IFederatedTask-TaskConfig} in five storage slots: the two CIDs as digests
/// (their kinds packed beside the durations) and all small numeric fields packed together.
abstract contract TaskSettings is IFederatedTask {
    /// @dev Highest robust-rule id (5 = centered clipping).
    uint8 internal constant MAX_ROBUST_RULE = 5;

    struct StoredConfig {
        bytes32 modelSpecDigest;
        bytes32 initialModelDigest;
        // --- one slot
        uint32 rounds;
        uint32 trainingDuration;
        uint32 verificationDuration;
        uint32 aggregationDuration;
        uint16 minTrainers;
        uint16 aggregatorQuorum;
        uint8 robustRule;
        uint16 ruleParam;
        uint8 modelSpecKind;
        uint8 initialModelKind;
        bool configured;
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
    function _configure(TaskConfig calldata c) internal {
        if (_config.configured) revert TaskAlreadyConfigured();
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
        s.minTrainers = c.minTrainers;
        s.aggregatorQuorum = c.aggregatorQuorum;
        s.robustRule = c.robustRule;
        s.ruleParam = c.ruleParam;
        s.modelSpecKind = specKind;
        s.initialModelKind = initialKind;
        s.configured = true;
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
    function _validate(TaskConfig calldata c) private pure {
        if (c.rounds == 0) revert InvalidConfig("rounds");
        if (c.trainingDuration == 0) revert InvalidConfig("trainingDuration");
        if (c.verificationDuration == 0) revert InvalidConfig("verificationDuration");
        if (c.aggregationDuration == 0) revert InvalidConfig("aggregationDuration");
        // A round holds at most 255 commits and a task at most 256 peers: larger values could never be met.
        if (c.minTrainers == 0 || c.minTrainers > 255) revert InvalidConfig("minTrainers");
        if (c.aggregatorQuorum == 0 || c.aggregatorQuorum > 256) revert InvalidConfig("aggregatorQuorum");
        if (c.robustRule > MAX_ROBUST_RULE) revert InvalidConfig("robustRule");
        if (c.dpClipNormMilli != 0) {
            // DP on: noise must be added and delta must be a real probability below 1.
            if (c.dpNoiseMultiplierMilli == 0) revert InvalidConfig("dpNoiseMultiplierMilli");
            if (c.dpDeltaExponent == 0) revert InvalidConfig("dpDeltaExponent");
        }
        if (c.reputationReward < 0) revert InvalidConfig("reputationReward");
        if (c.reputationPenalty < 0) revert InvalidConfig("reputationPenalty");
        if (c.reputationThreshold > c.reputationInitial) revert InvalidConfig("reputationThreshold");
        if (c.reputationInitial > c.reputationMax) revert InvalidConfig("reputationInitial");
        // Scores are stored as int32 offsets from reputationInitial (see Reputation).
        if (int256(c.reputationMax) - int256(c.reputationInitial) > type(int32).max) {
            revert InvalidConfig("reputationMax");
        }
    }

    /// @inheritdoc IFederatedTask
    function taskConfig() external view returns (TaskConfig memory c) {
        StoredConfig storage s = _config;
        c.modelSpecCid = CidCodec.encode(s.modelSpecKind, s.modelSpecDigest);
        c.initialModelCid = CidCodec.encode(s.initialModelKind, s.initialModelDigest);
        c.rounds = s.rounds;
        c.trainingDuration = s.trainingDuration;
        c.verificationDuration = s.verificationDuration;
        c.aggregationDuration = s.aggregationDuration;
        c.minTrainers = s.minTrainers;
        c.aggregatorQuorum = s.aggregatorQuorum;
        c.robustRule = s.robustRule;
        c.ruleParam = s.ruleParam;
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

    /// @notice Whether {configureTask} has run.
    function taskConfigured() external view returns (bool) {
        return _config.configured;
    }
}
