// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title DeploylessMulticall — many view calls to one contract in a single eth_call, nothing deployed
/// @notice Never deployed. Its creation code (with the constructor arguments) is sent as an
/// `eth_call` without a `to` address: the constructor makes the static calls and returns their
/// results as the call's output instead of runtime code. Works on any EVM node (Hardhat, Anvil,
/// geth, reth), needs no address and no deployment transaction, and adds nothing to FederatedTask.
/// @dev Hand-written (20 lines) rather than Multicall3, which must be deployed at a known address:
/// a fresh local chain has none. Output: abi.encode(block.number, block.timestamp, ok[], results[]).
contract DeploylessMulticall {
    constructor(address target, bytes[] memory calls) {
        bool[] memory ok = new bool[](calls.length);
        bytes[] memory results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (ok[i], results[i]) = target.staticcall(calls[i]);
        }
        bytes memory out = abi.encode(block.number, block.timestamp, ok, results);
        assembly {
            return(add(out, 32), mload(out))
        }
    }
}
