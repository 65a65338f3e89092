/**
 * The typed boundary of a task's ClusterRounds side contract (contracts/ClusterRounds.sol): the
 * clustered mode's parameters (scenario CID, cluster size cap, head battery, record window) and each
 * round's head records. The reader needs only a provider (audit, explorer); the writer (a head's
 * `recordCluster`, the initiator's `configure`) sends through node/chain/tx.ts like every other write.
 */
import { Contract, type ContractRunner, type NonceManager, type Signer } from "ethers";
import type { CID } from "multiformats/cid";
import type { ClusterRounds } from "../../types/ethers-contracts/ClusterRounds.ts";
import { ClusterRounds__factory } from "../../types/ethers-contracts/factories/ClusterRounds__factory.ts";
import { sendTx } from "../chain/tx.ts";
import type { Logger } from "../lib/log.ts";
import { cidFromBytes } from "../protocol/codecs.ts";

export interface ClusterConfig {
  scenarioCid: CID;
  maxClusterSize: number;
  /** battery a head needs, 0..1 */
  minHeadEnergy: number;
  recordWindowBps: number;
}

/** One head's record of one round, as on chain. */
export interface ClusterRecord {
  headIndex: number;
  /** peer-index bitmaps */
  members: bigint;
  included: bigint;
  /** null when nothing was included */
  aggregateCid: CID | null;
  acceptedSamples: number;
}

export interface ClusterRoundsReader {
  readonly address: string;
  taskAddress(): Promise<string>;
  /** null before the initiator configured it */
  config(): Promise<ClusterConfig | null>;
  /** end of the round's record window, s (0 when the round is not in VerifyCommit) */
  recordDeadline(round: number): Promise<number>;
  /** every record of `round`, by ascending head index */
  records(round: number): Promise<ClusterRecord[]>;
}

export interface ClusterRoundsWriter extends ClusterRoundsReader {
  recordCluster(round: number, members: bigint, included: bigint, aggregateCid: CID | null): Promise<{ hash: string; gasUsed: bigint }>;
}

export const bitsOf = (mask: bigint): number[] => {
  const out: number[] = [];
  for (let i = 0; mask > 0n; i++, mask >>= 1n) if (mask & 1n) out.push(i);
  return out;
};
export const maskOfPeers = (peers: readonly number[]): bigint => peers.reduce((m, p) => m | (1n << BigInt(p)), 0n);
const bytesOfHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.slice(2), "hex"));

export function clusterRoundsReader(address: string, runner: ContractRunner): ClusterRoundsReader {
  const cr = new Contract(address, ClusterRounds__factory.abi, runner) as unknown as ClusterRounds;
  return {
    address,
    taskAddress: () => cr.task(),
    async config() {
      if (!(await cr.configured())) return null;
      const c = await cr.config();
      const scenarioCid = cidFromBytes(bytesOfHex(c.scenarioCid));
      if (!scenarioCid) throw new Error(`ClusterRounds ${address}: the configured scenario CID is not a CID`);
      return { scenarioCid, maxClusterSize: Number(c.maxClusterSize), minHeadEnergy: Number(c.minHeadBatteryBps) / 10000, recordWindowBps: Number(c.recordWindowBps) };
    },
    async recordDeadline(round) {
      return Number(await cr.recordDeadline(round));
    },
    async records(round) {
      const [heads] = await cr.roundClusters(round);
      return Promise.all(bitsOf(BigInt(heads)).map(async (headIndex) => {
        const r = await cr.recordOf(round, headIndex);
        const cidHex = String(r.aggregateCid);
        return {
          headIndex, members: BigInt(r.members), included: BigInt(r.included),
          aggregateCid: cidHex.length > 2 ? cidFromBytes(bytesOfHex(cidHex)) : null, acceptedSamples: Number(r.acceptedSamples),
        };
      }));
    },
  };
}

export function clusterRoundsWriter(address: string, signer: Signer, log: Logger): ClusterRoundsWriter {
  const contract = new Contract(address, ClusterRounds__factory.abi, signer);
  const send = async (method: string, args: unknown[]) => {
    const r = await sendTx(contract, signer as NonceManager, method, args, log);
    return { hash: r.hash, gasUsed: r.gasUsed };
  };
  return {
    ...clusterRoundsReader(address, signer),
    recordCluster: (round, members, included, cid) => send("recordCluster", [round, members, included, cid ? cid.bytes : "0x"]),
  };
}

/** Deploys the side contract for `taskAddress` from the task's initiator and configures it. */
export async function deployClusterRounds(
  taskAddress: string, c: { scenarioCid: CID; maxClusterSize?: number; minHeadEnergy?: number; recordWindowBps?: number }, signer: Signer, log: Logger,
): Promise<string> {
  const factory = new ClusterRounds__factory(signer);
  const deployed = await factory.deploy(taskAddress);
  await deployed.waitForDeployment();
  const address = await deployed.getAddress();
  const contract = new Contract(address, ClusterRounds__factory.abi, signer);
  await sendTx(contract, signer as NonceManager, "configure", [{
    scenarioCid: c.scenarioCid.bytes, maxClusterSize: c.maxClusterSize ?? 8,
    minHeadBatteryBps: Math.round((c.minHeadEnergy ?? 0.3) * 10000), recordWindowBps: c.recordWindowBps ?? 5000,
  }], log);
  return address;
}
