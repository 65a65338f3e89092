// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {CidCodec} from "./lib/CidCodec.sol";

/// @title SecureAggregation — the "private" mode of one FederatedTask (docs/secure-aggregation.md)
/// @notice A side contract: FederatedTask is unchanged (it is already above EIP-170). It holds the
/// private-mode parameters and, per round, the secure-aggregation transcript that everyone needs to
/// unmask the sum and that anyone can audit:
/// - `postSetup`: a registered trainer, during the first part of the round's training window (the
///   setup window), posts its ephemeral X25519 public key and the CID of its setup bundle (Shamir
///   shares of its secrets, encrypted to its neighbours, with public hash commitments). The first
///   setup of a round fixes the round's population (the task's peer count), over which the
///   neighbourhood ring is drawn; the caller states the population it built its bundle for, so a
///   registration racing the setup makes the transaction revert instead of a bundle go stale.
/// - `revealShares`: after training closed, a registered peer posts the CID of its reveal bundle
///   (one share per neighbour: the self-mask share if that neighbour committed, else the
///   ephemeral-key share).
/// Masked updates, verdicts and aggregates go through the task's normal commit/reveal calls.
/// @dev The task is read through IFederatedTask views only. Peer indices are < 256 (the task's
/// bitmap width), so a round's posters fit in one uint256 bitmap.
contract SecureAggregation {
    /// @notice Private-mode parameters (set once by the task's initiator).
    struct Config {
        uint32 rangeMilli;      // clip range R x 1000 for each coordinate of numSamples x delta
        uint8 scaleBits;        // fixed point: v -> round(v * 2^scaleBits)
        uint16 neighbours;      // SecAgg+ neighbourhood size k (even); complete graph when n-1 <= k
        uint16 threshold;       // Shamir threshold t (<= k)
        uint32 noiseStdMilli;   // distributed DP: std of the total noise on the sum x 1000 (0 = off), in units of numSamples x delta
        uint16 setupWindowBps;  // share of the training window open for postSetup (bps, 1..9000)
        uint32 clipL2Milli;     // distributed DP: L2 clip C x 1000 of each peer's numSamples x delta (0 = no L2 clip; > 0 when noise is on)
        uint16 noisePeers;      // distributed DP: n_min, each peer adds Skellam noise of 1/n_min of the variance (1..256 with noise, else 0)
    }

    struct Setup {
        bytes32 ephemeralPk;
        bytes bundleCid;
    }

    bytes32 public constant INITIATOR_ROLE = keccak256("INITIATOR_ROLE");
    uint8 private constant _TRAINER = 1;
    uint256 private constant _MAX_PEERS = 256;

    IFederatedTask public immutable task;
    bool public configured;
    Config private _config;
    /// @dev trainingDuration of the task, read once at configuration.
    uint32 public trainingDuration;

    mapping(uint32 round => uint16) private _population;
    mapping(uint32 round => uint256) private _setupMask;
    mapping(uint32 round => uint256) private _revealMask;
    mapping(uint32 round => mapping(uint16 peerIndex => Setup)) private _setups;
    mapping(uint32 round => mapping(uint16 peerIndex => bytes)) private _reveals;

    event SecAggConfigured(address indexed initiator, Config config);
    event PopulationFixed(uint32 indexed round, uint16 population, uint64 setupDeadline);
    event SetupPosted(uint32 indexed round, address indexed peer, uint16 peerIndex, bytes32 ephemeralPk, bytes bundleCid);
    event SharesRevealed(uint32 indexed round, address indexed peer, uint16 peerIndex, bytes cid);

    error NotInitiator(address caller);
    error AlreadyConfigured();
    error NotConfigured();
    error TaskNotConfigured();
    error RangeIsZero();
    error ScaleBitsTooLarge(uint8 scaleBits);
    error NeighboursInvalid(uint16 neighbours);
    error ThresholdInvalid(uint16 threshold, uint16 neighbours);
    error SumMayOverflow(uint256 worstCase);
    error SetupWindowInvalid(uint16 setupWindowBps);
    /// @notice Noise on needs an L2 clip and 1..256 noise peers; noise off needs noisePeers 0.
    error NoiseParamsInvalid(uint32 noiseStdMilli, uint32 clipL2Milli, uint16 noisePeers);
    error NotRegistered(address peer);
    error PeerBanned(address peer);
    error PeerInactive(address peer);
    error NotATrainer(address peer);
    error WrongRound(uint32 round, uint32 currentRound);
    error WrongPhase(uint32 round, uint8 phase);
    error SetupClosed(uint32 round, uint64 setupDeadline);
    error PopulationMismatch(uint32 round, uint16 fixedPopulation, uint16 given);
    error NotInPopulation(uint32 round, uint16 peerIndex, uint16 population);
    error AlreadyPosted(uint32 round, address peer);
    error AlreadyRevealed(uint32 round, address peer);
    error NoSetupInRound(uint32 round);
    error ZeroEphemeralKey();

    constructor(IFederatedTask task_) {
        task = task_;
    }

    // ------------------------------------------------------------------ configuration

    /// @notice The task's initiator sets the private-mode parameters, once, after configuring the task.
    function configure(Config calldata c) external {
        if (!IAccessControl(address(task)).hasRole(INITIATOR_ROLE, msg.sender)) revert NotInitiator(msg.sender);
        if (configured) revert AlreadyConfigured();
        IFederatedTask.TaskConfig memory tc = task.taskConfig();
        if (tc.trainingDuration == 0 || tc.modelSpecCid.length == 0) revert TaskNotConfigured();
        if (c.rangeMilli == 0) revert RangeIsZero();
        if (c.scaleBits > 24) revert ScaleBitsTooLarge(c.scaleBits);
        if (c.neighbours < 2 || c.neighbours % 2 != 0) revert NeighboursInvalid(c.neighbours);
        if (c.threshold == 0 || c.threshold > c.neighbours) revert ThresholdInvalid(c.threshold, c.neighbours);
        if (c.setupWindowBps == 0 || c.setupWindowBps > 9000) revert SetupWindowInvalid(c.setupWindowBps);
        if (c.noiseStdMilli > 0 ? (c.clipL2Milli == 0 || c.noisePeers == 0 || c.noisePeers > _MAX_PEERS) : c.noisePeers != 0) {
            revert NoiseParamsInvalid(c.noiseStdMilli, c.clipL2Milli, c.noisePeers);
        }
        // Every coordinate of the sum must fit in int32: 256 peers at +-R, plus 8 standard deviations
        // of the noise of 256 peers each adding 1/noisePeers of the variance (std x sqrt(256/noisePeers)).
        uint256 noise = c.noiseStdMilli == 0 ? 0 : Math.ceilDiv(8 * 16 * 1000 * uint256(c.noiseStdMilli), Math.sqrt(uint256(c.noisePeers) * 1e6));
        uint256 worst = ((_MAX_PEERS * uint256(c.rangeMilli) + noise) << c.scaleBits) / 1000 + _MAX_PEERS;
        if (worst >= 2 ** 31) revert SumMayOverflow(worst);
        _config = c;
        trainingDuration = tc.trainingDuration;
        configured = true;
        emit SecAggConfigured(msg.sender, c);
    }

    function config() external view returns (Config memory) {
        return _config;
    }

    // ------------------------------------------------------------------ per round

    /// @notice A registered trainer posts its round setup: ephemeral public key and bundle CID.
    /// @param population the task's peer count the bundle's neighbourhood was drawn over (the
    /// first setup of the round fixes it; later ones must state the same).
    function postSetup(uint32 round, uint16 population, bytes32 ephemeralPk, bytes calldata bundleCid) external {
        if (!configured) revert NotConfigured();
        CidCodec.decode(bundleCid);
        if (ephemeralPk == bytes32(0)) revert ZeroEphemeralKey();
        uint16 index = _activePeer(msg.sender, true);
        (IFederatedTask.Phase phase, uint64 deadline) = _roundPhase(round, true);
        if (phase != IFederatedTask.Phase.Training) revert WrongPhase(round, uint8(phase));
        uint64 setupEnd = _setupDeadline(deadline);
        if (block.timestamp > setupEnd) revert SetupClosed(round, setupEnd);
        uint16 fixedPopulation = _population[round];
        if (fixedPopulation == 0) {
            uint256 count = task.peerCount();
            fixedPopulation = uint16(count > _MAX_PEERS ? _MAX_PEERS : count);
            _population[round] = fixedPopulation;
            emit PopulationFixed(round, fixedPopulation, setupEnd);
        }
        if (population != fixedPopulation) revert PopulationMismatch(round, fixedPopulation, population);
        if (index >= fixedPopulation) revert NotInPopulation(round, index, fixedPopulation);
        uint256 bit = uint256(1) << index;
        if (_setupMask[round] & bit != 0) revert AlreadyPosted(round, msg.sender);
        _setupMask[round] |= bit;
        _setups[round][index] = Setup(ephemeralPk, bundleCid);
        emit SetupPosted(round, msg.sender, index, ephemeralPk, bundleCid);
    }

    /// @notice A registered peer of the round's population posts the CID of its reveal bundle,
    /// once per round, after training closed and before the round ends.
    function revealShares(uint32 round, bytes calldata cid) external {
        if (!configured) revert NotConfigured();
        CidCodec.decode(cid);
        uint16 index = _activePeer(msg.sender, false);
        (IFederatedTask.Phase phase, ) = _roundPhase(round, false);
        if (phase < IFederatedTask.Phase.VerifyCommit || phase > IFederatedTask.Phase.AggregateReveal) revert WrongPhase(round, uint8(phase));
        uint16 population = _population[round];
        if (population == 0) revert NoSetupInRound(round);
        if (index >= population) revert NotInPopulation(round, index, population);
        uint256 bit = uint256(1) << index;
        if (_revealMask[round] & bit != 0) revert AlreadyRevealed(round, msg.sender);
        _revealMask[round] |= bit;
        _reveals[round][index] = cid;
        emit SharesRevealed(round, msg.sender, index, cid);
    }

    // ------------------------------------------------------------------ views

    /// @notice The round's population (0 before any setup), who posted setup and who revealed (bitmaps over peer index).
    function roundState(uint32 round) external view returns (uint16 population, uint256 setupMask, uint256 revealMask) {
        return (_population[round], _setupMask[round], _revealMask[round]);
    }

    function getSetup(uint32 round, uint16 peerIndex) external view returns (bytes32 ephemeralPk, bytes memory bundleCid) {
        Setup storage s = _setups[round][peerIndex];
        return (s.ephemeralPk, s.bundleCid);
    }

    function getReveal(uint32 round, uint16 peerIndex) external view returns (bytes memory cid) {
        return _reveals[round][peerIndex];
    }

    /// @notice End of the setup window of `round` while it is in Training (0 otherwise).
    function setupDeadline(uint32 round) external view returns (uint64) {
        (IFederatedTask.Phase phase, uint64 deadline, , , , , , , , ) = task.getRound(round);
        if (phase != IFederatedTask.Phase.Training || !configured) return 0;
        return _setupDeadline(deadline);
    }

    // ------------------------------------------------------------------ internals

    function _setupDeadline(uint64 trainingDeadline) private view returns (uint64) {
        uint64 start = trainingDeadline - trainingDuration;
        return start + uint64((uint256(trainingDuration) * _config.setupWindowBps) / 10000);
    }

    function _roundPhase(uint32 round, bool mustBeCurrent) private view returns (IFederatedTask.Phase phase, uint64 deadline) {
        uint32 current = task.currentRound();
        if (round == 0 || round > current || (mustBeCurrent && round != current)) revert WrongRound(round, current);
        (phase, deadline, , , , , , , , ) = task.getRound(round);
    }

    function _activePeer(address peer, bool trainer) private view returns (uint16 index) {
        (, bool registered, bool banned, , , ) = task.peerStatus(peer);
        if (!registered) revert NotRegistered(peer);
        if (banned) revert PeerBanned(peer);
        (uint16 peerIndex, uint8 roles, bool active, , , ) = task.getPeer(peer);
        if (!active) revert PeerInactive(peer);
        if (trainer && roles & _TRAINER == 0) revert NotATrainer(peer);
        return peerIndex;
    }
}
