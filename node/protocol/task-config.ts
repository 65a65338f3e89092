/**
 * The task's on-chain configuration (IFederatedTask.TaskConfig) decoded once into plain units:
 * the rule by name, durations in seconds, DP as a DpConfig (or null when off).
 */
import type { CID } from "multiformats/cid";
import { dpConfigFromTask, type DpConfig } from "../privacy/config.ts";
import { cidFromBytes } from "./codecs.ts";
import { ruleNameOf, type RuleName } from "./ids.ts";

/** TaskConfig as the contract returns it (ethers gives bigint for integers, bytes as 0x-hex or Uint8Array). */
export interface RawTaskConfig {
  modelSpecCid: string | Uint8Array;
  initialModelCid: string | Uint8Array;
  rounds: bigint | number;
  trainingDuration: bigint | number;
  verificationDuration: bigint | number;
  aggregationDuration: bigint | number;
  minTrainers: bigint | number;
  aggregatorQuorum: bigint | number;
  robustRule: bigint | number;
  ruleParam: bigint | number;
  dpClipNormMilli: bigint | number;
  dpNoiseMultiplierMilli: bigint | number;
  dpDeltaExponent: bigint | number;
  dpEpsilonBudgetMilli: bigint | number;
  reputationInitial: bigint | number;
  reputationReward: bigint | number;
  reputationPenalty: bigint | number;
  reputationThreshold: bigint | number;
  reputationMax: bigint | number;
}

export interface TaskConfig {
  /** null until the initiator configured the task */
  modelSpecCid: CID | null;
  initialModelCid: CID | null;
  rounds: number;
  trainingDuration: number;
  verificationDuration: number;
  aggregationDuration: number;
  minTrainers: number;
  aggregatorQuorum: number;
  rule: RuleName;
  /** The rule's parameter in natural units (centered clipping's tau: milli-units on chain). */
  ruleParam: number;
  /** The raw uint16 as stored, for display. */
  ruleParamRaw: number;
  dp: DpConfig | null;
  reputation: { initial: number; reward: number; penalty: number; threshold: number; max: number };
}

const num = (v: bigint | number): number => Number(v);

function bytesOf(v: string | Uint8Array): Uint8Array {
  if (typeof v !== "string") return v;
  const hex = v.startsWith("0x") ? v.slice(2) : v;
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** The rule parameter in natural units from the on-chain uint16. */
export function ruleParamFromChain(rule: RuleName, raw: number): number {
  return rule === "centered-clipping" ? raw / 1000 : raw;
}

/** The on-chain uint16 for a rule parameter in natural units. */
export function ruleParamToChain(rule: RuleName, param: number): number {
  const raw = rule === "centered-clipping" ? Math.round(param * 1000) : param;
  if (!Number.isInteger(raw) || raw < 0 || raw > 0xffff) throw new RangeError(`${rule}: parameter ${param} does not fit the on-chain uint16`);
  return raw;
}

export function decodeTaskConfig(raw: RawTaskConfig): TaskConfig {
  const rule = ruleNameOf(num(raw.robustRule));
  const ruleParamRaw = num(raw.ruleParam);
  const configured = bytesOf(raw.modelSpecCid).length > 0;
  return {
    modelSpecCid: cidFromBytes(bytesOf(raw.modelSpecCid)),
    initialModelCid: cidFromBytes(bytesOf(raw.initialModelCid)),
    rounds: num(raw.rounds),
    trainingDuration: num(raw.trainingDuration),
    verificationDuration: num(raw.verificationDuration),
    aggregationDuration: num(raw.aggregationDuration),
    minTrainers: num(raw.minTrainers),
    aggregatorQuorum: num(raw.aggregatorQuorum),
    rule,
    ruleParam: ruleParamFromChain(rule, ruleParamRaw),
    ruleParamRaw,
    dp: configured ? dpConfigFromTask(raw) : null,
    reputation: {
      initial: num(raw.reputationInitial), reward: num(raw.reputationReward), penalty: num(raw.reputationPenalty),
      threshold: num(raw.reputationThreshold), max: num(raw.reputationMax),
    },
  };
}
