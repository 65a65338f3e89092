// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Bitmap — population count and lowest set bit of 256-bit peer sets
/// @notice Peer sets (pools, committees, commit and reveal marks) are 256-bit words, bit i = peer
/// index i. Iterate a set with `for (m = set; m != 0; m &= m - 1) lowestIndex(m)`.
library Bitmap {
    /// @notice Number of set bits of `x` (SWAR popcount, Hacker's Delight 5-1, on 256 bits).
    function popcount(uint256 x) internal pure returns (uint256) {
        unchecked {
            uint256 m1 = 0x5555555555555555555555555555555555555555555555555555555555555555;
            uint256 m2 = 0x3333333333333333333333333333333333333333333333333333333333333333;
            uint256 m4 = 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            uint256 h01 = 0x0101010101010101010101010101010101010101010101010101010101010101;
            x = x - ((x >> 1) & m1);
            x = (x & m2) + ((x >> 2) & m2);
            x = (x + (x >> 4)) & m4;
            return (x * h01) >> 248;
        }
    }

    /// @notice Index of the lowest set bit of `x` (`x` must be non-zero): popcount(lowbit - 1).
    function lowestIndex(uint256 x) internal pure returns (uint256) {
        unchecked {
            return popcount((x & (~x + 1)) - 1);
        }
    }
}
