// What an attacker knows when it builds its update, plus small helpers shared by the attacks.
import { AttackParameterError } from "./errors.ts";

export type AttackParamName = "sigma" | "scale" | "z" | "epsilon" | "gammaInit" | "tolerance" | "targetLabel" | "poisonFraction";

export interface AttackContext {
  /** The round's global weights. */
  globalWeights: Float32Array;
  /** The weights this peer would have sent had it been honest. */
  honestWeights: Float32Array;
  /** Knowledge shared by colluding attackers: the honest deltas they computed (their own included). */
  colluderHonestDeltas?: readonly Float32Array[];
  numPeers: number;
  numAttackers: number;
  /** Seed for the attack's randomness (derive it per peer and round). */
  seed: number;
  /**
   * Attack-specific knobs: sigma (gaussian, free-rider), scale (scale, sign-flip, backdoor's boost gamma),
   * z (alie), epsilon (ipm), gammaInit and tolerance (min-max, min-sum: the binary search on gamma),
   * targetLabel and poisonFraction (backdoor's data part).
   */
  params?: Partial<Record<AttackParamName, number>>;
}

export function honestDelta(ctx: AttackContext): Float32Array {
  const { globalWeights: g, honestWeights: h } = ctx;
  if (g.length !== h.length) {
    throw new AttackParameterError(`attack: honestWeights has length ${h.length}, globalWeights ${g.length}`);
  }
  const out = new Float32Array(g.length);
  for (let k = 0; k < g.length; k++) out[k] = h[k] - g[k];
  return out;
}

/** global + s * delta, in float64, rounded once. */
export function addScaledDelta(global: Float32Array, delta: ArrayLike<number>, s: number): Float32Array {
  const out = new Float32Array(global.length);
  for (let k = 0; k < global.length; k++) out[k] = global[k] + s * delta[k];
  return out;
}

/** The colluders' honest deltas, or this peer's own honest delta when it has no colluders. */
export function knownHonestDeltas(ctx: AttackContext): readonly Float32Array[] {
  const known = ctx.colluderHonestDeltas && ctx.colluderHonestDeltas.length > 0 ? ctx.colluderHonestDeltas : [honestDelta(ctx)];
  for (const d of known) {
    if (d.length !== ctx.globalWeights.length) {
      throw new AttackParameterError(`attack: a colluder delta has length ${d.length}, globalWeights ${ctx.globalWeights.length}`);
    }
  }
  return known;
}

/** Per-coordinate mean and (population) standard deviation of `vs`, in float64. */
export function meanAndStd(vs: readonly Float32Array[]): { mean: Float64Array; std: Float64Array } {
  const d = vs[0].length;
  const n = vs.length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const v of vs) for (let k = 0; k < d; k++) mean[k] += v[k];
  for (let k = 0; k < d; k++) mean[k] /= n;
  for (const v of vs) for (let k = 0; k < d; k++) { const t = v[k] - mean[k]; std[k] += t * t; }
  for (let k = 0; k < d; k++) std[k] = Math.sqrt(std[k] / n);
  return { mean, std };
}

export function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new AttackParameterError(`attack parameter ${name} must be a finite number > 0, got ${v}`);
  return v;
}
