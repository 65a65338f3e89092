/**
 * The task's public root set for a root-validation verifier (node/aggregation/rules/root-validation.ts):
 * fetched from IPFS by the CID in the task's model spec, checked (node/ml/root-set.ts), cached per CID
 * for the process, and turned into the loss function protocol/verdict.ts rootVerdict scores with.
 * The audit uses the same loader, so both score with the same bytes.
 */
import { createRule, hasRootVote } from "../aggregation/rules.ts";
import type { ModelSpec } from "../ml/types.ts";
import type { RootLoss } from "../protocol/verdict.ts";
import type { RoleContext } from "./context.ts";

/** A root set that could not be fetched or is not a valid root set: the message says which and why. */
export class RootSetUnavailableError extends Error {
  override name = "RootSetUnavailableError";
}

/** Bytes cap: the largest root set decodeRootSet accepts (12-byte header + 785 bytes per sample). */
const MAX_ROOT_BYTES = 12 + 10_000 * 785;

const cache = new Map<string, Promise<RootLoss>>();

/**
 * The loss on the task's root set (mean cross-entropy over its samples, and per class for the rule's
 * per-class gate) of a model given as flat weights.
 * Throws RootSetUnavailableError when the spec names no root set, or the bytes do not arrive in time or
 * do not decode. A failed load is not cached, so the next round tries again.
 */
export function rootLossOf(store: { get(cid: string, options?: { timeoutMs?: number; maxBytes?: number }): Promise<Uint8Array> }, spec: ModelSpec, timeoutMs: number): Promise<RootLoss> {
  const cid = spec.rootSet;
  if (!cid) return Promise.reject(new RootSetUnavailableError("the task's rule is root-validation but its model spec names no root set (rootSet)"));
  const hit = cache.get(cid);
  if (hit) return hit;
  const loading = (async (): Promise<RootLoss> => {
    let bytes: Uint8Array;
    try {
      bytes = await store.get(cid, { timeoutMs, maxBytes: MAX_ROOT_BYTES });
    } catch (e) {
      throw new RootSetUnavailableError(`root set ${cid} could not be fetched: ${(e as Error).message}`);
    }
    const { decodeRootSet } = await import("../ml/root-set.ts");
    let data;
    try {
      data = decodeRootSet(bytes);
    } catch (e) {
      throw new RootSetUnavailableError(`root set ${cid} is invalid: ${(e as Error).message}`);
    }
    const { initBackend } = await import("../ml/backend.ts");
    const { createModel } = await import("../ml/models.ts");
    const { setWeights } = await import("../ml/train.ts");
    const { rootLossDetail } = await import("../ml/root-loss.ts");
    const { unflattenWeights } = await import("../ml/codec.ts");
    await initBackend("auto");
    const model = createModel(spec, 0);
    return async (weights) => {
      setWeights(model, unflattenWeights(weights, spec));
      return rootLossDetail(model, data, data.numClasses);
    };
  })();
  cache.set(cid, loading);
  loading.catch(() => cache.delete(cid));
  return loading;
}

/**
 * The root-set loss a role judges a round with: null when the task's rule has no root vote,
 * "unavailable" (logged as root-set-unavailable, with the reason) when the root set cannot be had here
 * now. The verifier then commits the public pre-filter; a cluster head records nothing.
 */
export async function roundRootLoss(ctx: Pick<RoleContext, "store" | "spec" | "task" | "log">, round: number, timeoutMs: number): Promise<RootLoss | null | "unavailable"> {
  if (!hasRootVote(createRule(ctx.task.rule))) return null;
  try {
    return await rootLossOf(ctx.store, ctx.spec, timeoutMs);
  } catch (err) {
    ctx.log.error("root-set-unavailable", { round, reason: (err as Error).message });
    return "unavailable";
  }
}
