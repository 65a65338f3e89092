// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev Number of bit planes of a {BitSlicedTally} counter set: counts up to 2**9 - 1 = 511 votes.
uint256 constant TALLY_PLANES = 9;

/// @title BitSlicedTally — count votes for 256 candidates at once with vertical counters
/// @notice Each vote is a 256-bit mask (bit i = candidate i approved). Counts are kept
/// bit-sliced: `planes[k]` holds bit k of all 256 counters, so adding a vote is a ripple-carry
/// over at most 9 words instead of 256 per-candidate increments, and "count >= t" for all
/// candidates is one bit-serial comparison (bit-slicing, Biham 1997, "A Fast New DES
/// Implementation in Software").
/// @dev 9 planes count up to 511 votes, enough for the 256 peers a task can hold.
library BitSlicedTally {
    /// @notice Add one vote `mask` to the counters in `planes`.
    function add(uint256[TALLY_PLANES] memory planes, uint256 mask) internal pure {
        uint256 carry = mask;
        for (uint256 k; k < TALLY_PLANES && carry != 0; ++k) {
            uint256 plane = planes[k];
            planes[k] = plane ^ carry;
            carry = plane & carry;
        }
    }

    /// @notice Mask of the candidates whose count is at least `threshold`.
    function atLeast(uint256[TALLY_PLANES] memory planes, uint256 threshold) internal pure returns (uint256) {
        if (threshold == 0) return type(uint256).max;
        if (threshold >= 1 << TALLY_PLANES) return 0;
        uint256 greater; // lanes already known to be > threshold
        uint256 equal = type(uint256).max; // lanes equal to threshold on the bits seen so far
        for (uint256 k = TALLY_PLANES; k > 0;) {
            --k;
            uint256 plane = planes[k];
            if ((threshold >> k) & 1 == 1) {
                equal &= plane;
            } else {
                greater |= equal & plane;
                equal &= ~plane;
            }
        }
        return greater | equal;
    }

    /// @notice Mask of the candidates approved by a strict majority of `votes` votes.
    function strictMajority(uint256[TALLY_PLANES] memory planes, uint256 votes) internal pure returns (uint256) {
        return atLeast(planes, votes / 2 + 1);
    }
}
