// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Reputation — peers' scores packed eight to a storage slot by peer index
/// @notice A score is stored as an int32 offset from the task's `reputationInitial`, so a peer
/// that registers before the task is configured needs no write at registration and simply reads
/// `reputationInitial` (0 until configured). Packing eight offsets per slot lets the round
/// finalization update every committer's score with one cold slot access per eight peers.
/// A lane holds `offset XOR 2**31`, written when the peer is added, so a peer's lane is never
/// zero afterwards and finalization only ever rewrites non-zero slots (no 20k-gas fresh stores
/// in the transaction that settles a whole round); a zero lane reads as offset 0.
abstract contract Reputation {
    uint32 private constant _LANE_BIAS = 0x80000000;

    /// @dev The task's scoring parameters, loaded once per finalization.
    struct ReputationRules {
        int32 initial;
        int32 reward;
        int32 penalty;
        int32 threshold;
        int32 max;
    }

    mapping(uint256 slotIndex => uint256 packed) private _reputationOffsets;

    /// @dev Give peer `index` its (biased, non-zero) lane with offset 0. Call once per peer.
    function _initReputation(uint256 index) internal {
        _reputationOffsets[index >> 3] |= uint256(_LANE_BIAS) << ((index & 7) * 32);
    }

    /// @dev The stored offset of peer `index` from the initial score.
    function _reputationOffset(uint256 index) internal view returns (int32) {
        return _decode(_reputationOffsets[index >> 3] >> ((index & 7) * 32));
    }

    function _decode(uint256 lane) private pure returns (int32) {
        uint32 bits = uint32(lane);
        return bits == 0 ? int32(0) : int32(bits ^ _LANE_BIAS);
    }

    /// @dev The score of peer `index` when the task starts scores at `initial`.
    function _reputationOf(uint256 index, int32 initial) internal view returns (int32) {
        return int32(int256(initial) + _reputationOffset(index));
    }

    /// @dev Apply one round's outcome to peer `index` and return its old and new score.
    /// Accepted: + `reward`, capped at `max`. Rejected: − `penalty`, floored so that the score
    /// and its offset stay within int32.
    function _applyOutcome(uint256 index, bool accepted, ReputationRules memory rules)
        internal
        returns (int32 oldScore, int32 newScore)
    {
        int256 initial = rules.initial;
        uint256 slotIndex = index >> 3;
        uint256 shift = (index & 7) * 32;
        uint256 word = _reputationOffsets[slotIndex];
        int256 offset = _decode(word >> shift);
        oldScore = int32(initial + offset);
        int256 score = int256(oldScore);
        if (accepted) {
            score += rules.reward;
            if (score > rules.max) score = rules.max;
        } else {
            score -= rules.penalty;
            // + 1 keeps the offset above int32.min, whose biased lane would read as "no lane".
            int256 floor = initial + type(int32).min + 1;
            if (floor < type(int32).min) floor = type(int32).min;
            if (score < floor) score = floor;
        }
        newScore = int32(score);
        uint256 newOffset = uint256(uint32(int32(score - initial)) ^ _LANE_BIAS);
        _reputationOffsets[slotIndex] = (word & ~(uint256(type(uint32).max) << shift)) | (newOffset << shift);
    }
}
