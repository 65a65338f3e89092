/**
 * What a trainer does with its update before committing it: pick the format (the task's, or its
 * device tier's override), compress the delta against the round's global model with the public
 * rounding seed, and keep top-k's error-feedback residual (on disk when the agent has a data dir).
 */
import type { ModelSpec } from "../ml/types.ts";
import { compressUpdate, type UpdateBase } from "./codec.ts";
import { residualStore, type ResidualStore } from "./residual-store.ts";
import { roundingSeed } from "./rounding.ts";
import { formatForTier, type CompressionFormat } from "./spec.ts";

/** Kept by the trainer across rounds. */
export interface TrainerCompressionState {
  /** this peer's device tier (selects a per-tier format override) */
  tier?: string;
  /** where the top-k residual is persisted; in memory only when absent */
  dataDir?: string;
  residual?: Float32Array | null;
  store?: ResidualStore;
}

export interface PackedUpdate {
  format: CompressionFormat;
  /** null for "none": the fetcher encodes the float32 weights itself */
  bytes: Uint8Array | null;
  /** what decoders get (base + decoded delta) */
  decoded: Float32Array;
  /** call once the commit is on chain: stores the new top-k residual */
  commitResidual(): void;
}

export function packUpdate(o: {
  spec: ModelSpec; task: string; round: number; trainer: string; base: UpdateBase; weights: Float32Array;
  state: TrainerCompressionState; warn?: (event: string, fields: Record<string, unknown>) => void;
}): PackedUpdate {
  const c = o.spec.compression;
  const format = formatForTier(c, o.state.tier);
  if (format === "none" || !c) return { format: "none", bytes: null, decoded: o.weights, commitResidual: () => undefined };
  let residual: Float32Array | null = null;
  if (format === "topk") {
    if (o.state.dataDir && !o.state.store) o.state.store = residualStore({ dataDir: o.state.dataDir, task: o.task, spec: o.spec, warn: o.warn });
    if (o.state.residual === undefined) o.state.residual = o.state.store?.load() ?? null;
    residual = o.state.residual ?? null;
    if (residual && residual.length !== o.weights.length) residual = null;
  }
  const out = compressUpdate(o.weights, {
    format, base: o.base, spec: o.spec, seed: roundingSeed(o.task, o.round, o.trainer),
    chunkSize: c.chunkSize, topkFraction: c.topkFraction, residual,
  });
  return {
    format, bytes: out.bytes, decoded: out.decoded,
    commitResidual: () => {
      if (!out.residual) return;
      o.state.residual = out.residual;
      o.state.store?.save(out.residual);
    },
  };
}
