/**
 * The typed boundary of a task's SecureAggregation side contract (contracts/SecureAggregation.sol):
 * its private-mode parameters and each round's setups and reveals. The reader needs only a provider
 * (audit, explorer); the writer (postSetup, revealShares, configure) sends through node/chain/tx.ts
 * with the agent's NonceManager, like every other write. This is I/O; the rest of node/secagg is pure.
 */
import { Contract, type ContractRunner, type NonceManager, type Signer } from "ethers";
import type { CID } from "multiformats/cid";
import type { SecureAggregation } from "../../types/ethers-contracts/SecureAggregation.ts";
import { SecureAggregation__factory } from "../../types/ethers-contracts/factories/SecureAggregation__factory.ts";
import { sendTx } from "../chain/tx.ts";
import type { Logger } from "../lib/log.ts";
import { cidFromBytes } from "../protocol/codecs.ts";
import { decodeSecAggConfig, encodeSecAggConfig, type SecAggConfig } from "./config.ts";

export interface SecAggRoundState {
  /** The task's peer count when the round's first setup was posted (0: nobody posted). */
  population: number;
  setupMask: bigint;
  revealMask: bigint;
}

export interface PostedSetup { index: number; ephemeralPk: Uint8Array; bundleCid: CID }

export interface SecAggReader {
  readonly address: string;
  taskAddress(): Promise<string>;
  /** null before the initiator configured it. */
  config(): Promise<SecAggConfig | null>;
  setupWindowBps(): Promise<number>;
  roundState(round: number): Promise<SecAggRoundState>;
  /** The setups posted in `round` (ascending peer index). */
  setups(round: number, setupMask: bigint): Promise<PostedSetup[]>;
  /** The reveal CIDs posted in `round`, by peer index. */
  reveals(round: number, revealMask: bigint): Promise<{ index: number; cid: CID }[]>;
  /** End of the round's setup window (0 when the round is not in Training). */
  setupDeadline(round: number): Promise<number>;
}

export interface SecAggWriter extends SecAggReader {
  postSetup(round: number, population: number, ephemeralPk: Uint8Array, bundleCid: CID): Promise<{ hash: string; gasUsed: bigint }>;
  revealShares(round: number, cid: CID): Promise<{ hash: string; gasUsed: bigint }>;
}

const bitsOf = (mask: bigint): number[] => {
  const out: number[] = [];
  for (let i = 0; mask > 0n; i++, mask >>= 1n) if (mask & 1n) out.push(i);
  return out;
};
const bytesOfHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.slice(2), "hex"));
const hexOf = (b: Uint8Array): string => "0x" + Buffer.from(b).toString("hex");

export function secAggReader(address: string, runner: ContractRunner): SecAggReader {
  const sa = new Contract(address, SecureAggregation__factory.abi, runner) as unknown as SecureAggregation;
  return {
    address,
    taskAddress: () => sa.task(),
    async config() {
      if (!(await sa.configured())) return null;
      return decodeSecAggConfig((await sa.config()) as unknown as Parameters<typeof decodeSecAggConfig>[0]);
    },
    async setupWindowBps() {
      return Number((await sa.config()).setupWindowBps);
    },
    async roundState(round) {
      const s = await sa.roundState(round);
      return { population: Number(s.population), setupMask: BigInt(s.setupMask), revealMask: BigInt(s.revealMask) };
    },
    async setups(round, setupMask) {
      return Promise.all(bitsOf(setupMask).map(async (index) => {
        const s = await sa.getSetup(round, index);
        const cid = cidFromBytes(bytesOfHex(s.bundleCid));
        if (!cid) throw new Error(`setup of peer ${index} in round ${round} has no CID on chain`);
        return { index, ephemeralPk: bytesOfHex(s.ephemeralPk), bundleCid: cid };
      }));
    },
    async reveals(round, revealMask) {
      return Promise.all(bitsOf(revealMask).map(async (index) => {
        const cid = cidFromBytes(bytesOfHex(await sa.getReveal(round, index)));
        if (!cid) throw new Error(`reveal of peer ${index} in round ${round} has no CID on chain`);
        return { index, cid };
      }));
    },
    async setupDeadline(round) {
      return Number(await sa.setupDeadline(round));
    },
  };
}

export function secAggWriter(address: string, signer: Signer, log: Logger): SecAggWriter {
  const contract = new Contract(address, SecureAggregation__factory.abi, signer);
  const send = async (method: string, args: unknown[]) => {
    const r = await sendTx(contract, signer as NonceManager, method, args, log);
    return { hash: r.hash, gasUsed: r.gasUsed };
  };
  return {
    ...secAggReader(address, signer),
    postSetup: (round, population, pk, cid) => send("postSetup", [round, population, hexOf(pk), cid.bytes]),
    revealShares: (round, cid) => send("revealShares", [round, cid.bytes]),
  };
}

/** Deploys the side contract for `taskAddress` from the task's initiator and configures it. */
export async function deploySecureAggregation(taskAddress: string, config: SecAggConfig, setupWindowBps: number, signer: Signer, log: Logger): Promise<string> {
  const factory = new SecureAggregation__factory(signer);
  const deployed = await factory.deploy(taskAddress);
  await deployed.waitForDeployment();
  const address = await deployed.getAddress();
  const contract = new Contract(address, SecureAggregation__factory.abi, signer);
  await sendTx(contract, signer as NonceManager, "configure", [{ ...encodeSecAggConfig(config), setupWindowBps }], log);
  return address;
}
