/**
 * Commit–reveal: what a verifier and an aggregator commit to before their window closes, so that
 * nobody can copy a vote or a CID (docs/protocol.md). The same encodings as the contract's
 * `verdictCommitment` / `aggregateCommitment` views; pure (ethers' ABI coder and keccak only).
 */
import { AbiCoder, keccak256 } from "ethers";
import type { CID } from "multiformats/cid";

const abi = AbiCoder.defaultAbiCoder();

/** keccak256(abi.encode(address task, uint32 round, address verifier, uint256 mask, bytes32 salt)) */
export function verdictCommitment(task: string, round: number, verifier: string, mask: bigint, salt: string): string {
  return keccak256(abi.encode(["address", "uint32", "address", "uint256", "bytes32"], [task, round, verifier, mask, salt]));
}

/** keccak256(abi.encode(address task, uint32 round, address aggregator, bytes cid, uint16 accuracyBps, uint32 epsMilli, bytes32 salt)) */
export function aggregateCommitment(
  task: string, round: number, aggregator: string, cid: CID, accuracyBps: number, cumulativeEpsilonMilli: number, salt: string,
): string {
  return keccak256(abi.encode(
    ["address", "uint32", "address", "bytes", "uint16", "uint32", "bytes32"],
    [task, round, aggregator, cid.bytes, accuracyBps, cumulativeEpsilonMilli, salt],
  ));
}
