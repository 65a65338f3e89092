/** The task as a whole: its configuration (from TaskConfigured), live state and model spec. */
import { decodeModelSpec } from "../../node/ml/codec.ts";
import type { ModelSpec } from "../../node/ml/types.ts";
import { ruleDisplayName } from "../abi.ts";
import type { ChainIndex } from "../chain-index.ts";
import { cidToString } from "../cid.ts";
import { buildPeers } from "../rounds.ts";
import type { Plain } from "../values.ts";
import { withCidStrings } from "./cid-args.ts";
import { contractView, type ExplorerContext } from "./context.ts";

export interface TaskInfo {
  config: { [key: string]: Plain } | null;
  ruleName: string | null;
  started: boolean;
  completed: boolean;
  currentRound: number | null;
  latestGlobalModelCid: string | null;
  peerCount: number;
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
    const rounds = index.eventsNamed("RoundStarted");
    return {
      config: config ? withCidStrings(config) : null,
      ruleName: config ? ruleLabel(Number(config.robustRule), Number(config.ruleParam)) : null,
      started: live?.started ?? index.eventsNamed("TaskStarted").length > 0,
      completed: live?.completed ?? index.eventsNamed("TaskCompleted").length > 0,
      currentRound: live?.currentRound ?? (rounds.length ? Number(rounds[rounds.length - 1].args.round) : null),
      latestGlobalModelCid: live?.latest || null,
      peerCount: live?.peerCount ?? buildPeers(index).size,
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
