/**
 * The typed boundary of a task's PrivacyLedger (contracts/PrivacyLedger.sol): its DP unit and
 * parameters, and each trainer's per-round epsilon reports. The reader needs only a provider
 * (explorer, audit); the writer (a trainer's `report`, the initiator's `configure`) needs a signer
 * and sends through tx.ts like every other write.
 */
import { Contract, type ContractRunner, type NonceManager, type Signer } from "ethers";
import type { PrivacyLedger } from "../../types/ethers-contracts/PrivacyLedger.ts";
import { PrivacyLedger__factory } from "../../types/ethers-contracts/factories/PrivacyLedger__factory.ts";
import type { Logger } from "../lib/log.ts";
import { decodeLedgerParams, encodeLedgerParams, type LedgerParams, type RawLedgerParams } from "../privacy/ledger.ts";
import { sendTx } from "./tx.ts";

/** One EpsilonReported event. */
export interface EpsilonReport {
  round: number;
  peer: string;
  commitIndex: number;
  numSamples: number;
  epsilonMilli: number;
  blockNumber: number;
}

export interface PrivacyLedgerReader {
  readonly address: string;
  /** The task this ledger belongs to. */
  taskAddress(): Promise<string>;
  /** The unit and parameters; null before the initiator configured them. */
  params(): Promise<LedgerParams | null>;
  /** `peer`'s report for `round` (epsilon * 1000), or null when it did not report. */
  epsilonOf(round: number, peer: string): Promise<number | null>;
  /** Every report, oldest first (from the EpsilonReported events). */
  reports(fromBlock?: number): Promise<EpsilonReport[]>;
}

export interface PrivacyLedgerWriter extends PrivacyLedgerReader {
  report(round: number, epsilonMilli: number): Promise<{ hash: string; gasUsed: bigint }>;
  configure(params: LedgerParams): Promise<{ hash: string; gasUsed: bigint }>;
}

/** A reader over any provider or signer. */
export function privacyLedgerReader(address: string, runner: ContractRunner): PrivacyLedgerReader {
  const ledger = new Contract(address, PrivacyLedger__factory.abi, runner) as unknown as PrivacyLedger;
  return {
    address,
    taskAddress: () => ledger.task(),
    async params() {
      return decodeLedgerParams((await ledger.params()) as unknown as RawLedgerParams);
    },
    async epsilonOf(round, peer) {
      const [reported, milli] = await ledger.epsilonOf(round, peer);
      return reported ? Number(milli) : null;
    },
    async reports(fromBlock = 0) {
      const events = await ledger.queryFilter(ledger.filters.EpsilonReported(), fromBlock, "latest");
      return events.map((e) => ({
        round: Number(e.args.round), peer: e.args.peer, commitIndex: Number(e.args.commitIndex), numSamples: Number(e.args.numSamples),
        epsilonMilli: Number(e.args.epsilonMilli), blockNumber: e.blockNumber,
      }));
    },
  };
}

/** A reader + writer over a signer (a NonceManager, as every agent's connection uses). */
export function privacyLedger(address: string, signer: Signer, log: Logger): PrivacyLedgerWriter {
  const contract = new Contract(address, PrivacyLedger__factory.abi, signer);
  const send = async (method: string, args: unknown[]) => {
    const r = await sendTx(contract, signer as NonceManager, method, args, log);
    return { hash: r.hash, gasUsed: r.gasUsed };
  };
  return {
    ...privacyLedgerReader(address, signer),
    report: (round, epsilonMilli) => send("report", [round, epsilonMilli]),
    configure: (params) => send("configure", [encodeLedgerParams(params)]),
  };
}

/** Deploys a ledger for `taskAddress` from `signer` (the task's initiator) and configures it. */
export async function deployPrivacyLedger(taskAddress: string, params: LedgerParams, signer: Signer, log: Logger): Promise<PrivacyLedgerWriter> {
  const factory = new PrivacyLedger__factory(signer);
  const deployed = await factory.deploy(taskAddress);
  await deployed.waitForDeployment();
  const ledger = privacyLedger(await deployed.getAddress(), signer, log);
  await ledger.configure(params);
  return ledger;
}
