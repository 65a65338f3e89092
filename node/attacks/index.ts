// Byzantine behaviours for experiments and tests. Every attack is deterministic given its context and seed.
import { alie } from "./alie.ts";
import type { AttackContext } from "./context.ts";
import { AttackParameterError } from "./errors.ts";
import { freeRider } from "./freeRider.ts";
import { gaussianNoise } from "./gaussian.ts";
import { ipm } from "./ipm.ts";
import { backdoorReplacement } from "./backdoor.ts";
import { minMax } from "./minMax.ts";
import { minSum } from "./minSum.ts";
import { scaleAttack } from "./scale.ts";
import { signFlip } from "./signFlip.ts";

export { AttackParameterError } from "./errors.ts";
export type { AttackContext } from "./context.ts";
export { labelFlip } from "./labelFlip.ts";
export { alieZ } from "./alie.ts";
export { inverseNormalCdf } from "./normal.ts";
export { alie, freeRider, gaussianNoise, ipm, scaleAttack, signFlip, minMax, minSum, backdoorReplacement };
export { minMaxDelta } from "./minMax.ts";
export { minSumDelta, type MinSumOptions } from "./minSum.ts";
export { DEFAULT_GAMMA_INIT, DEFAULT_GAMMA_TOLERANCE, type AgrAgnosticOptions, type AgrAgnosticResult, type PerturbationKind } from "./agrAgnostic.ts";
export {
  DEFAULT_BACKDOOR_TARGET, DEFAULT_POISON_FRACTION, MNIST_IMAGE_SIZE, applyTrigger, type BackdoorTraining, attackSuccessRate, poisonShard, replacementGamma, triggerPixels,
  type PoisonOptions, type PoisonedShard, type TriggerOptions,
} from "./backdoor.ts";

export const attackKinds = ["sign-flip", "gaussian", "scale", "label-flip", "free-rider", "alie", "ipm", "min-max", "min-sum", "backdoor"] as const;
export type AttackKind = (typeof attackKinds)[number];

/** Attacks that change the data rather than the update: the peer trains on poisoned labels, then sends honestly. */
export const dataAttacks: readonly AttackKind[] = ["label-flip"];

/**
 * Attacks with a data part AND an update part. "backdoor": the learner trains on poisonShard(...) of its
 * shard (trigger + target label; protocol/local-update.ts passes it to the learner), then applyAttack
 * scales the poisoned delta (model replacement).
 */
export const poisonedDataAttacks: readonly AttackKind[] = ["backdoor"];

/** Attack kind from a name (case-insensitive; "signflip", "noise", "boost", "freerider", "minmax", "minsum" accepted too). */
export function parseAttack(name: string): AttackKind {
  const s = name.trim().toLowerCase();
  const aliases: Record<string, AttackKind> = {
    signflip: "sign-flip", noise: "gaussian", "gaussian-noise": "gaussian", boost: "scale", boosted: "scale", scaling: "scale",
    labelflip: "label-flip", freerider: "free-rider", "free-riding": "free-rider", minmax: "min-max", minsum: "min-sum",
    "model-replacement": "backdoor",
  };
  if ((attackKinds as readonly string[]).includes(s)) return s as AttackKind;
  if (s in aliases) return aliases[s];
  throw new AttackParameterError(`unknown attack "${name}"; known: ${attackKinds.join(", ")}`);
}

/**
 * The weights a Byzantine peer sends. For "label-flip" the poisoning happened at training time
 * (see labelFlip), so the honestly computed weights are returned unchanged.
 */
export function applyAttack(kind: AttackKind, ctx: AttackContext): Float32Array {
  if (ctx.honestWeights.length !== ctx.globalWeights.length) {
    throw new AttackParameterError(`applyAttack: honestWeights has length ${ctx.honestWeights.length}, globalWeights ${ctx.globalWeights.length}`);
  }
  switch (kind) {
    case "sign-flip": return signFlip(ctx);
    case "gaussian": return gaussianNoise(ctx);
    case "scale": return scaleAttack(ctx);
    case "label-flip": return Float32Array.from(ctx.honestWeights);
    case "free-rider": return freeRider(ctx);
    case "alie": return alie(ctx);
    case "ipm": return ipm(ctx);
    case "min-max": return minMax(ctx);
    case "min-sum": return minSum(ctx);
    case "backdoor": return backdoorReplacement(ctx);
    default: throw new AttackParameterError(`unknown attack kind ${String(kind)}; known: ${attackKinds.join(", ")}`);
  }
}
