// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IFederatedTask} from "./interfaces/IFederatedTask.sol";
import {FederatedTaskCore} from "./FederatedTaskCore.sol";

/// @title FederatedTaskFacet — FederatedTask's large, rarely called logic, run by DELEGATECALL
/// @notice Holds the code that does not fit beside the hot paths under the EIP-170 limit of 24,576
/// bytes: task configuration and start, admission, revocation and bans, bonds and payouts, the
/// committee draw, phase transitions with their settlement, challenges, and the large views.
/// {FederatedTask} creates one facet in its constructor and forwards the matching calls to it
/// with DELEGATECALL, so this code runs on the task's storage, with the task's address as
/// `address(this)` and the caller's `msg.sender` and `msg.value`; the function signatures here
/// are the task's own ({IFederatedTask}). Events are logged by the task's address.
/// @dev Called directly (not through the task), every state-changing function reverts with
/// {OnlyThroughTask}: the facet's own storage is empty and never used. {closePhase} and
/// {drawCommittees} are entry points for FederatedTask's hot paths only: the task exposes no
/// function with their selectors, so no outside caller can reach them through it.
contract FederatedTaskFacet is FederatedTaskCore {
    /// @notice A state-changing facet function was called directly instead of through its task.
    error OnlyThroughTask();

    address private immutable _self = address(this);

    modifier onlyThroughTask() {
        if (address(this) == _self) revert OnlyThroughTask();
        _;
    }

    // ------------------------------------------------------------------ entry points of the hot paths

    /// @notice FederatedTask only: close the open window of the current `round` (the last expected
    /// actor of the window just acted).
    function closePhase(uint32 round) external onlyThroughTask {
        _closePhase(round, _rounds[round]);
    }

    /// @notice FederatedTask only: draw and store the committees of `round` (first verdict or
    /// aggregate commit). Reverts with {CommitteeSeedUnavailable} while the seed hash is unknown.
    function drawCommittees(uint32 round) external onlyThroughTask {
        _select(round, _rounds[round]);
    }

    // ------------------------------------------------------------------ task

    /// @dev See FederatedTask.configureTask.
    function configureTask(IFederatedTask.TaskConfig calldata config) external onlyThroughTask onlyRole(INITIATOR_ROLE) {
        _configure(config);
        emit IFederatedTask.TaskConfigured(msg.sender, config);
    }

    /// @dev See FederatedTask.startTask.
    function startTask() external onlyThroughTask onlyRole(INITIATOR_ROLE) {
        if (!_config.configured) revert IFederatedTask.TaskNotConfigured();
        if (_state.started) revert IFederatedTask.TaskAlreadyStarted();
        _state.started = true;
        emit IFederatedTask.TaskStarted(_config.rounds);
        _startRound(1);
    }


    // ------------------------------------------------------------------ admission, bonds, payouts

    /// @dev See FederatedTask.admit.
    function admit(address[] calldata accounts) external onlyThroughTask onlyRole(INITIATOR_ROLE) {
        _admit(accounts);
    }

    /// @dev See FederatedTask.revokeRoles.
    function revokeRoles(address peer, uint8 roles) external onlyThroughTask onlyRole(INITIATOR_ROLE) {
        _revokeRoles(peer, roles);
    }

    /// @dev See FederatedTask.banPeer.
    function banPeer(address peer) external onlyThroughTask onlyRole(INITIATOR_ROLE) {
        Peer storage p = _peers[peer];
        if (!p.registered) revert IFederatedTask.NotRegistered(peer);
        _ban(peer, p, BAN_BY_INITIATOR);
    }

    /// @dev See FederatedTask.withdrawBond.
    function withdrawBond() external onlyThroughTask {
        _withdrawBond();
    }

    /// @dev See FederatedTask.claim.
    function claim() external onlyThroughTask {
        _claim();
    }




    // ------------------------------------------------------------------ committees

    /// @dev See FederatedTask.selectCommittees.
    function selectCommittees(uint32 round) external onlyThroughTask {
        Round storage rd = _existingRound(round);
        if (rd.selected) revert IFederatedTask.CommitteesAlreadySelected(round);
        IFederatedTask.Phase phase = rd.phase;
        if (phase != IFederatedTask.Phase.VerifyCommit && phase != IFederatedTask.Phase.AggregateCommit) {
            revert IFederatedTask.WrongPhase(round, IFederatedTask.Phase.VerifyCommit, phase);
        }
        uint64 seedBlock = rd.seedBlock;
        if (block.number > seedBlock + 256) {
            rd.seedBlock = uint64(block.number);
            emit IFederatedTask.CommitteeSeedFixed(round, uint64(block.number), rd.verifierPool, rd.aggregatorPool);
            return;
        }
        _select(round, rd);
    }

    /// @dev See FederatedTask.getCommittees.
    function getCommittees(uint32 round)
        public
        view
        returns (bool selected, uint64 seedBlock, uint256 verifierCommittee, uint256 aggregatorCommittee)
    {
        Round storage rd = _existingRound(round);
        seedBlock = rd.seedBlock;
        if (rd.selected) return (true, seedBlock, rd.verifierCommittee, rd.aggregatorCommittee);
        if (seedBlock == 0 || rd.phase == IFederatedTask.Phase.Failed) return (false, seedBlock, 0, 0);
        bytes32 hash = blockhash(seedBlock);
        if (hash == 0) return (false, seedBlock, 0, 0);
        (verifierCommittee, aggregatorCommittee,) = _draw(round, rd, hash);
    }


    /// @dev See FederatedTask.isVerifier.
    function isVerifier(uint32 round, address account) external view returns (bool) {
        (, , uint256 committee,) = getCommittees(round);
        return _isMember(committee, account);
    }

    /// @dev See FederatedTask.isAggregator.
    function isAggregator(uint32 round, address account) external view returns (bool) {
        (, , , uint256 committee) = getCommittees(round);
        return _isMember(committee, account);
    }

    // ------------------------------------------------------------------ liveness

    /// @dev See FederatedTask.advancePhase.
    function advancePhase(uint32 round) external onlyThroughTask {
        TaskState memory st = _state;
        if (!st.started) revert IFederatedTask.TaskNotStarted();
        if (round != st.currentRound) revert IFederatedTask.WrongRound(round, st.currentRound);
        if (st.completed) revert IFederatedTask.TaskIsCompleted();
        Round storage rd = _rounds[round];
        IFederatedTask.Phase phase = rd.phase;
        uint64 deadline = rd.deadline;
        bool done;
        if (phase == IFederatedTask.Phase.Training) done = rd.pending == 0 && rd.commitCount >= _config.minTrainers;
        else if (phase == IFederatedTask.Phase.VerifyCommit) done = rd.selected && rd.verdictCommitted == rd.verifierCommittee;
        else if (phase == IFederatedTask.Phase.VerifyReveal) done = rd.verdictRevealed == rd.verdictCommitted;
        else if (phase == IFederatedTask.Phase.AggregateCommit) done = rd.selected && rd.aggregateCommitted == rd.aggregatorCommittee;
        else done = rd.aggregateRevealed == rd.aggregateCommitted; // AggregateReveal
        if (!done && block.timestamp <= deadline) revert IFederatedTask.DeadlineNotReached(round, deadline, uint64(block.timestamp));
        _closePhase(round, rd);
    }

    // ------------------------------------------------------------------ challenges

    /// @dev See FederatedTask.challenge.
    function challenge(uint32 round) external payable onlyThroughTask returns (uint256 id) {
        Round storage rd = _existingRound(round);
        IFederatedTask.Phase phase = rd.phase;
        uint64 deadline = rd.deadline;
        if (phase != IFederatedTask.Phase.Finalized || block.timestamp > deadline) revert IFederatedTask.NotChallengeable(round, phase, deadline);
        uint256 required = _config.admissionMode == ADMISSION_BOND ? _config.bondWei : 0;
        if (msg.value != required) revert IFederatedTask.WrongChallengeBond(msg.value, required);
        id = _challenges.length;
        _challenges.push(Challenge({round: round, status: _OPEN, bond: uint96(msg.value), challenger: msg.sender}));
        _state.openChallenges += 1;
        if (msg.value != 0) _holdChallengeBond(msg.value);
        emit IFederatedTask.ChallengeRaised(id, round, msg.sender, msg.value);
    }

    /// @dev See FederatedTask.settleChallenge.
    function settleChallenge(uint256 id, bool upheld) external onlyThroughTask onlyRole(INITIATOR_ROLE) {
        if (id >= _challenges.length) revert ChallengeDoesNotExist(id);
        Challenge storage c = _challenges[id];
        if (c.status != _OPEN) revert IFederatedTask.ChallengeNotOpen(id);
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
        emit IFederatedTask.ChallengeSettled(id, round, upheld, slashed);
    }



    // ------------------------------------------------------------------ round views

}
