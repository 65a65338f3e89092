// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./utils/TestBase.sol";
import {BitSlicedTally, TALLY_PLANES} from "../../contracts/lib/BitSlicedTally.sol";

contract BitSlicedTallyTest is TestBase {
    /// The bit-sliced counters agree with a per-bit count for every lane and threshold tried.
    function testFuzz_matchesNaiveCounting(uint256[] memory votes, uint256 thresholdSeed) public pure {
        uint256 n = votes.length > 24 ? 24 : votes.length;
        uint256[TALLY_PLANES] memory planes;
        for (uint256 v; v < n; ++v) BitSlicedTally.add(planes, votes[v]);
        uint256 threshold = thresholdSeed % (n + 2);
        uint256 atLeast = BitSlicedTally.atLeast(planes, threshold);
        uint256 majority = BitSlicedTally.strictMajority(planes, n);
        for (uint256 bit; bit < 256; ++bit) {
            uint256 count;
            for (uint256 v; v < n; ++v) count += (votes[v] >> bit) & 1;
            assertEq((atLeast >> bit) & 1, count >= threshold ? 1 : 0, "atLeast lane");
            assertEq((majority >> bit) & 1, count * 2 > n ? 1 : 0, "majority lane");
        }
    }

    /// 256 identical votes count to 256 in every lane (the largest tally a task can produce).
    function test_countsUpTo256Votes() public pure {
        uint256[TALLY_PLANES] memory planes;
        for (uint256 v; v < 256; ++v) BitSlicedTally.add(planes, type(uint256).max);
        assertEq(BitSlicedTally.atLeast(planes, 256), type(uint256).max, "256 votes");
        assertEq(BitSlicedTally.atLeast(planes, 257), 0, "not 257");
        assertEq(BitSlicedTally.strictMajority(planes, 256), type(uint256).max, "majority");
    }
}
