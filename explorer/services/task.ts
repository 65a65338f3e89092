/** The task as a whole: its configuration (from TaskConfigured), live state and model spec. */
import { decodeModelSpec } from "../../node/ml/codec.ts";
import type { ModelSpec } from "../../node/ml/types.ts";
import { admissionModeName, ruleDisplayName } from "../abi.ts";
import type { ChainIndex } from "../chain-index.ts";
import { cidToString } from "../cid.ts";
import { buildChallenges, buildPeers, type ChallengeView } from "../rounds.ts";
import type { Plain } from "../values.ts";
import { withCidStrings } from "./cid-args.ts";
import { contractView, type ExplorerContext } from "./context.ts";

/** The contract's bondTotals view (wei, decimal strings). */
export interface BondTotals {
  posted: string;
  held: string;
  refunded: string;
  slashed: string;
  claimableTotal: string;
}

export interface TaskInfo {
  config: { [key: string]: Plain } | null;
  ruleName: string | null;
  /** TaskConfig.admissionMode by name ("allow-list", "bond"); null before TaskConfigured. */
  admission: string | null;
  started: boolean;
  completed: boolean;
  currentRound: number | null;
  latestGlobalModelCid: string | null;
  /** Registered peers (banned ones included: indexes are never reused). */
  peerCount: number;
  /** Addresses admitted (PeerAdmitted), banned (PeerBanned). */
  admittedCount: number;
  bannedCount: number;
  bondTotals: BondTotals | null;
  challenges: ChallengeView[];
}

/** The configuration of the first TaskConfigured event (raw ABI values), or null before one. */
export function taskConfig(index: ChainIndex): { [key: string]: Plain } | null {
  const configEvent = index.eventsNamed("TaskConfigured")[0];
  return (configEvent?.args.config as { [key: string]: Plain } | undefined) ?? null;
}

/** Whether the task clips and noises updates (dpClipNormMilli > 0); null before it is configured. */
export function dpEnabled(index: ChainIndex): boolean | null {
  const config = taskConfig(index);
  return config ? Number(config.dpClipNormMilli) > 0 : null;
}

function ruleLabel(id: number, param: number): string {
  return `${ruleDisplayName(id)} (param ${param})`;
}

export class TaskService {
  private specCache: { cid: string; spec: ModelSpec } | null = null;

  constructor(private readonly ctx: ExplorerContext) {}

  async taskInfo(): Promise<TaskInfo> {
    const { index } = this.ctx;
    const config = taskConfig(index);
    const live = await contractView(this.ctx, async (t) => ({
      started: Boolean(await t.taskStarted()),
      completed: Boolean(await t.taskCompleted()),
      currentRound: Number(await t.currentRound()),
      latest: cidToString(await t.latestGlobalModelCid()),
      peerCount: Number(await t.peerCount()),
    }));
    const bondTotals = await contractView(this.ctx, async (t): Promise<BondTotals> => {
      const b = await t.bondTotals();
      return {
        posted: BigInt(b.posted).toString(),
        held: BigInt(b.held).toString(),
        refunded: BigInt(b.refunded).toString(),
        slashed: BigInt(b.slashed).toString(),
        claimableTotal: BigInt(b.claimableTotal).toString(),
      };
    });
    const rounds = index.eventsNamed("RoundStarted");
    const peers = [...buildPeers(index).values()];
    return {
      config: config ? withCidStrings(config) : null,
      ruleName: config ? ruleLabel(Number(config.robustRule), Number(config.ruleParam)) : null,
      admission: config ? admissionModeName(Number(config.admissionMode)) : null,
      started: live?.started ?? index.eventsNamed("TaskStarted").length > 0,
      completed: live?.completed ?? index.eventsNamed("TaskCompleted").length > 0,
      currentRound: live?.currentRound ?? (rounds.length ? Number(rounds[rounds.length - 1].args.round) : null),
      latestGlobalModelCid: live?.latest || null,
      peerCount: live?.peerCount ?? peers.filter((p) => p.registered).length,
      admittedCount: peers.filter((p) => p.admitted).length,
      bannedCount: peers.filter((p) => p.banned !== null).length,
      bondTotals,
      challenges: buildChallenges(index),
    };
  }

  /** The task's model spec (cached), or null when there is no task or it cannot be fetched. */
  async taskSpec(): Promise<ModelSpec | null> {
    const config = taskConfig(this.ctx.index);
    if (!config) return null;
    const cid = cidToString(String(config.modelSpecCid));
    if (this.specCache?.cid === cid) return this.specCache.spec;
    try {
      const spec = decodeModelSpec(await this.ctx.content.get(cid, { timeoutMs: this.ctx.cidTimeoutMs, referenced: true }));
      this.specCache = { cid, spec };
      return spec;
    } catch {
      return null;
    }
  }
}
