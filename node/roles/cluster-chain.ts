/**
 * The typed boundary of a task's ClusterRounds side contract (contracts/ClusterRounds.sol): the
 * clustered mode's parameters (scenario CID, cluster size cap, head battery, record and challenge
 * windows, inside checkers and outside check rate), each round's head records, its check seed and its challenges. The reader needs only a provider (audit, explorer); the writer (a head's
 * `recordCluster`, the initiator's `configure`) sends through node/chain/tx.ts like every other write.
 */
import { Contract, type ContractRunner, type NonceManager, type Signer } from "ethers";
import type { CID } from "multiformats/cid";
import type { ClusterRounds } from "../../types/ethers-contracts/ClusterRounds.ts";
import { ClusterRounds__factory } from "../../types/ethers-contracts/factories/ClusterRounds__factory.ts";
import { sendTx } from "../chain/tx.ts";
import { CLUSTER_DEFAULTS } from "../../ignition/modules/ClusterRounds.ts";
import type { Logger } from "../lib/log.ts";
import { cidFromBytes } from "../protocol/codecs.ts";
import { bitsOf, maskOfPeers, type CheckPolicy, type ClusterRecord } from "../protocol/cluster-round.ts";

export interface ClusterConfig {
  scenarioCid: CID;
  maxClusterSize: number;
  /** battery a head needs, 0..1 */
  minHeadEnergy: number;
  recordWindowBps: number;
  /** share of the verify-commit window after the record window open for challenges */
  challengeWindowBps: number;
  /** k: committee verifiers among each cluster's members drawn to check it */
  insideCheckers: number;
  /** p: chance (bps) per cluster and round that one committee verifier from outside the cluster checks it too */
  outsideCheckBps: number;
}

/** The sampled-check seed of a round: null until stored on chain; seedBlock 0 until fixed. */
export interface CheckSeed {
  seed: string | null;
  seedBlock: number;
}

export { bitsOf, maskOfPeers, type ClusterRecord };

export interface ClusterRoundsReader {
  readonly address: string;
  taskAddress(): Promise<string>;
  /** null before the initiator configured it */
  config(): Promise<ClusterConfig | null>;
  /** end of the round's record window, s (0 when the round is not in VerifyCommit) */
  recordDeadline(round: number): Promise<number>;
  /** every record of `round`, by ascending head index */
  records(round: number): Promise<ClusterRecord[]>;
  /** end of the round's challenge window, s (0 when the round is not in VerifyCommit) */
  challengeDeadline(round: number): Promise<number>;
  checkSeed(round: number): Promise<CheckSeed>;
  /** challenged heads of `round` with who challenged each */
  challenges(round: number): Promise<Map<number, string>>;
}

export interface ClusterRoundsWriter extends ClusterRoundsReader {
  recordCluster(round: number, members: bigint, included: bigint, aggregateCid: CID | null): Promise<{ hash: string; gasUsed: bigint }>;
  /** fixes the seed block (first call) or stores the seed (a later block) */
  drawCheckSeed(round: number): Promise<{ hash: string; gasUsed: bigint }>;
  challengeCluster(round: number, headIndex: number): Promise<{ hash: string; gasUsed: bigint }>;
}

/** The configured check policy (k, p) of a ClusterRounds contract; before configuration: k = 1, p = 100 %. */
export async function checkPolicyOf(reader: Pick<ClusterRoundsReader, "config">): Promise<CheckPolicy> {
  const c = await reader.config();
  return { insideCheckers: c?.insideCheckers ?? 1, outsideCheckBps: c?.outsideCheckBps ?? 10000 };
}

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
      return {
        scenarioCid, maxClusterSize: Number(c.maxClusterSize), minHeadEnergy: Number(c.minHeadBatteryBps) / 10000, recordWindowBps: Number(c.recordWindowBps),
        challengeWindowBps: Number(c.challengeWindowBps), insideCheckers: Number(c.insideCheckers), outsideCheckBps: Number(c.outsideCheckBps),
      };
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
    async challengeDeadline(round) {
      return Number(await cr.challengeDeadline(round));
    },
    async checkSeed(round) {
      const [seed, seedBlock] = await cr.checkSeed(round);
      return { seed: /^0x0+$/.test(seed) ? null : seed, seedBlock: Number(seedBlock) };
    },
    async challenges(round) {
      const heads = bitsOf(BigInt(await cr.roundChallenges(round)));
      return new Map(await Promise.all(heads.map(async (h) => [h, await cr.challengerOf(round, h)] as [number, string])));
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
    drawCheckSeed: (round) => send("drawCheckSeed", [round]),
    challengeCluster: (round, head) => send("challengeCluster", [round, head]),
  };
}

/** Deploys the side contract for `taskAddress` from the task's initiator and configures it. */
export async function deployClusterRounds(
  taskAddress: string,
  c: { scenarioCid: CID; maxClusterSize?: number; minHeadEnergy?: number; recordWindowBps?: number; challengeWindowBps?: number; insideCheckers?: number; outsideCheckBps?: number },
  signer: Signer, log: Logger,
): Promise<string> {
  const factory = new ClusterRounds__factory(signer);
  const deployed = await factory.deploy(taskAddress);
  await deployed.waitForDeployment();
  const address = await deployed.getAddress();
  const contract = new Contract(address, ClusterRounds__factory.abi, signer);
  await sendTx(contract, signer as NonceManager, "configure", [{
    scenarioCid: c.scenarioCid.bytes, maxClusterSize: c.maxClusterSize ?? 8,
    minHeadBatteryBps: Math.round((c.minHeadEnergy ?? 0.3) * 10000), recordWindowBps: c.recordWindowBps ?? CLUSTER_DEFAULTS.recordWindowBps,
    challengeWindowBps: c.challengeWindowBps ?? CLUSTER_DEFAULTS.challengeWindowBps, insideCheckers: c.insideCheckers ?? CLUSTER_DEFAULTS.insideCheckers,
    outsideCheckBps: c.outsideCheckBps ?? CLUSTER_DEFAULTS.outsideCheckBps,
  }], log);
  return address;
}
