// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev The few Foundry cheatcodes these tests use. forge-std 1.1.2 (npm) does not compile here:
/// its Test.sol imports "ds-test/test.sol", which the package does not ship.
interface Vm {
    function prank(address sender) external;
    function warp(uint256 timestamp) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 selector) external;
    function assume(bool condition) external pure;
    function roll(uint256 blockNumber) external;
    function deal(address account, uint256 balance) external;
}

/// @dev Minimal assertion helpers (revert = failed test).
abstract contract TestBase {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    error AssertionFailed(string what, uint256 actual, uint256 expected);

    function assertEq(uint256 actual, uint256 expected, string memory what) internal pure {
        if (actual != expected) revert AssertionFailed(what, actual, expected);
    }

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) revert AssertionFailed(what, 0, 1);
    }

    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + (x % (max - min + 1));
    }
}
