// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IFederatedTask} from "./interfaces/IFederatedTask.sol";

/// @title PrivacyLedger — the differential-privacy unit of one task, its parameters, and each peer's epsilon
/// @notice A side contract of one FederatedTask (which is above EIP-170 and does not grow). The
/// task's initiator records once, before the task starts, which unit the guarantee is about:
/// - `UNIT_PEER` (1): one peer's whole data in a round; each peer clips and noises its update (the
///   task's own dp* fields, copied and checked here). Its epsilon after r commits is the same for
///   every peer and already lands on chain with every aggregate reveal (`cumulativeEpsilonMilli`).
/// - `UNIT_EXAMPLE` (2): one training example; each trainer runs DP-SGD locally (Poisson sampling at
///   q = expectedBatchSize / N, where N is the `numSamples` of its commit; `localEpochs` epochs of
///   max(1, round(N / expectedBatchSize)) steps per round; per-example clip C, noise sigma·C per step).
///   A trainer's epsilon depends on its own N and on the rounds it committed in, so each trainer
///   reports its cumulative epsilon here with {report} after each commit.
/// - `UNIT_DISTRIBUTED` (3): one peer's whole data in a round of a PRIVATE task (secure aggregation,
///   contracts/SecureAggregation.sol) with distributed DP: each trainer clips its sample-weighted
///   delta to L2 norm C, quantizes it with `scaleBits` fractional bits and adds Skellam noise of
///   1/noisePeers of the total variance (sigma·C)^2, so the secure sum of >= noisePeers commits
///   carries the full noise (mechanism: Skellam, Agarwal et al. 2021). A round's epsilon depends on
///   how many peers committed (fewer than noisePeers means less noise), so each trainer reports its
///   cumulative epsilon with {report} once the round's training closed.
/// The ledger enforces what a contract can: a report comes from a registered peer that committed
/// in that round, once per round, never below its previous report, never above the budget. It
/// cannot check the RDP arithmetic (too costly on chain): the explorer and `peerfl audit` recompute
/// every report from these parameters and the peer's commits (node/privacy/ledger.ts).
contract PrivacyLedger {
    /// @notice Unit: one peer's data per round (DP-FedAvg-style noise on the update).
    uint8 public constant UNIT_PEER = 1;
    /// @notice Unit: one training example (DP-SGD in the local trainer).
    uint8 public constant UNIT_EXAMPLE = 2;
    /// @notice Unit: one peer's data per round, distributed Skellam noise on the secure sum (private tasks).
    uint8 public constant UNIT_DISTRIBUTED = 3;
    /// @dev FederatedTask's initiator role (keccak256("INITIATOR_ROLE")).
    bytes32 private constant _INITIATOR_ROLE = keccak256("INITIATOR_ROLE");

    /// @notice The task's privacy parameters.
    struct Params {
        uint8 unit;                  // UNIT_PEER or UNIT_EXAMPLE
        uint32 clipNormMilli;        // C * 1000: per-example (example unit; 0 = each peer chooses, C does not enter epsilon), per-update (peer unit) or L2 of the sample-weighted delta (distributed unit)
        uint32 noiseMultiplierMilli; // sigma * 1000 (> 0): noise std sigma * C per DP-SGD step (example), per update (peer) or on the secure sum (distributed)
        uint32 expectedBatchSize;    // example unit: B, sampling rate q = B / numSamples of the commit (0 for the peer unit)
        uint16 localEpochs;          // example unit: local epochs per round (0 for the peer unit)
        uint8 deltaExponent;         // delta = 10^-deltaExponent (1..30)
        uint32 epsilonBudgetMilli;   // epsilon budget * 1000 per peer over the whole task (0 = none)
        uint16 noisePeers;           // distributed unit: n_min, each peer adds 1/n_min of the sum's noise variance (1..256; 0 otherwise)
        uint8 scaleBits;             // distributed unit: fixed-point bits of the quantized sum (as in SecureAggregation; 0..24; 0 otherwise)
    }

    /// @notice A peer's latest report.
    struct Latest {
        uint32 round;        // round of its latest report (0 = none)
        uint32 epsilonMilli; // cumulative epsilon * 1000 it reported then
        uint32 reports;      // how many rounds it reported in
    }

    /// @notice The task this ledger belongs to.
    IFederatedTask public immutable task;
    Params private _params;
    bool public configured;
    /// @dev round => peer => epsilon * 1000 + 1 (0 = no report)
    mapping(uint32 => mapping(address => uint64)) private _reports;
    mapping(address => Latest) private _latest;

    /// @notice The initiator recorded the task's unit and parameters (once).
    event PrivacyConfigured(address indexed initiator, Params params);
    /// @notice `peer` (commit `commitIndex` of `round`, trained on `numSamples` examples) reports a
    /// cumulative epsilon (example or distributed unit) of `epsilonMilli` / 1000 over all its rounds up to `round`.
    event EpsilonReported(uint32 indexed round, address indexed peer, uint8 commitIndex, uint32 numSamples, uint32 epsilonMilli);

    error ZeroTask();
    error NotInitiator(address account);
    error AlreadyConfigured();
    error NotConfigured();
    error TaskAlreadyStarted();
    error InvalidParams(string field);
    /// @notice The peer unit must repeat the task's own DP fields; `field` differs.
    error PeerUnitMismatch(string field);
    /// @notice Per-peer reports exist for the example and distributed units only.
    error UnitTakesNoReports(uint8 unit);
    error NotRegistered(address peer);
    error RoundNotOpen(uint32 round, uint32 currentRound);
    error NotCommitted(uint32 round, address peer);
    error AlreadyReported(uint32 round, address peer);
    /// @notice Reports go in round order: `round` is before the caller's latest reported round.
    error ReportOutOfOrder(uint32 round, uint32 latestRound);
    error ZeroEpsilon();
    /// @notice Reports are cumulative: a later round cannot report less than an earlier one.
    error EpsilonDecreased(address peer, uint32 previousMilli, uint32 givenMilli);
    error EpsilonOverBudget(address peer, uint32 epsilonMilli, uint32 budgetMilli);

    constructor(address taskAddress) {
        if (taskAddress == address(0)) revert ZeroTask();
        task = IFederatedTask(taskAddress);
    }

    /// @notice Initiator of the task, once, before the task starts: record the unit and parameters.
    /// @dev The peer unit must copy the task's dpClipNormMilli / dpNoiseMultiplierMilli /
    /// dpDeltaExponent / dpEpsilonBudgetMilli (DP on), with batch and epochs 0.
    function configure(Params calldata p) external {
        if (!IAccessControl(address(task)).hasRole(_INITIATOR_ROLE, msg.sender)) revert NotInitiator(msg.sender);
        if (configured) revert AlreadyConfigured();
        if (task.taskStarted()) revert TaskAlreadyStarted();
        if (p.noiseMultiplierMilli == 0) revert InvalidParams("noiseMultiplierMilli");
        if (p.deltaExponent == 0 || p.deltaExponent > 30) revert InvalidParams("deltaExponent");
        if (p.unit != UNIT_DISTRIBUTED && (p.noisePeers != 0 || p.scaleBits != 0)) revert InvalidParams("noisePeers/scaleBits");
        if (p.unit == UNIT_EXAMPLE) {
            if (p.expectedBatchSize == 0) revert InvalidParams("expectedBatchSize");
            if (p.localEpochs == 0) revert InvalidParams("localEpochs");
        } else if (p.unit == UNIT_DISTRIBUTED) {
            if (p.clipNormMilli == 0) revert InvalidParams("clipNormMilli");
            if (p.noisePeers == 0 || p.noisePeers > 256) revert InvalidParams("noisePeers");
            if (p.scaleBits > 24) revert InvalidParams("scaleBits");
            if (p.expectedBatchSize != 0 || p.localEpochs != 0) revert InvalidParams("expectedBatchSize/localEpochs");
        } else if (p.unit == UNIT_PEER) {
            IFederatedTask.TaskConfig memory c = task.taskConfig();
            if (c.dpClipNormMilli == 0 || p.clipNormMilli != c.dpClipNormMilli) revert PeerUnitMismatch("clipNormMilli");
            if (p.noiseMultiplierMilli != c.dpNoiseMultiplierMilli) revert PeerUnitMismatch("noiseMultiplierMilli");
            if (p.deltaExponent != c.dpDeltaExponent) revert PeerUnitMismatch("deltaExponent");
            if (p.epsilonBudgetMilli != c.dpEpsilonBudgetMilli) revert PeerUnitMismatch("epsilonBudgetMilli");
            if (p.expectedBatchSize != 0 || p.localEpochs != 0) revert InvalidParams("expectedBatchSize/localEpochs");
        } else {
            revert InvalidParams("unit");
        }
        _params = p;
        configured = true;
        emit PrivacyConfigured(msg.sender, p);
    }

    /// @notice Example and distributed units: the caller reports its cumulative epsilon (* 1000,
    /// rounded up) after its commit of `round` (distributed: after the round's training closed). Once per round, from a registered peer that committed in `round`,
    /// never less than its previous report and never above the budget.
    function report(uint32 round, uint32 epsilonMilli) external {
        if (!configured) revert NotConfigured();
        Params memory p = _params;
        if (p.unit != UNIT_EXAMPLE && p.unit != UNIT_DISTRIBUTED) revert UnitTakesNoReports(p.unit);
        (, bool registered,,,,) = task.peerStatus(msg.sender);
        if (!registered) revert NotRegistered(msg.sender);
        uint32 current = task.currentRound();
        if (round == 0 || round > current) revert RoundNotOpen(round, current);
        uint8 idx = task.commitIndexOf(round, msg.sender);
        if (idx == 0) revert NotCommitted(round, msg.sender);
        if (_reports[round][msg.sender] != 0) revert AlreadyReported(round, msg.sender);
        Latest storage last = _latest[msg.sender];
        if (round < last.round) revert ReportOutOfOrder(round, last.round);
        if (epsilonMilli == 0) revert ZeroEpsilon();
        if (epsilonMilli < last.epsilonMilli) revert EpsilonDecreased(msg.sender, last.epsilonMilli, epsilonMilli);
        if (p.epsilonBudgetMilli != 0 && epsilonMilli > p.epsilonBudgetMilli) {
            revert EpsilonOverBudget(msg.sender, epsilonMilli, p.epsilonBudgetMilli);
        }
        (,, uint32 numSamples) = task.getCommit(round, idx - 1);
        _reports[round][msg.sender] = uint64(epsilonMilli) + 1;
        last.round = round;
        last.epsilonMilli = epsilonMilli;
        last.reports += 1;
        emit EpsilonReported(round, msg.sender, idx - 1, numSamples, epsilonMilli);
    }

    /// @notice The recorded unit and parameters (all zero before {configure}).
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @notice `peer`'s report for `round`: whether it reported, and the epsilon * 1000.
    function epsilonOf(uint32 round, address peer) external view returns (bool reported, uint32 epsilonMilli) {
        uint64 v = _reports[round][peer];
        return (v != 0, v == 0 ? 0 : uint32(v - 1));
    }

    /// @notice `peer`'s latest report (round 0 when none).
    function latestOf(address peer) external view returns (Latest memory) {
        return _latest[peer];
    }
}
