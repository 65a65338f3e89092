/**
 * Fetching and decoding model bytes under a budget: a byte cap equal to the model's exact encoded
 * size, bounded concurrency, a deadline per fetch, and a cache that lives for one round. Hostile
 * content costs a peer at most the cap and the deadline, never unbounded memory.
 */
import type { CID } from "multiformats/cid";
import type { ModelStore } from "../../ipfs/model-store.ts";
import type { Logger } from "../lib/log.ts";
import { encodeFlatWeights } from "../ml/codec.ts";
import type { ModelSpec } from "../ml/types.ts";
import type { RejectionCode } from "../protocol/ids.ts";
import { decodeUpdate, encodeUpdate } from "../protocol/model-bytes.ts";

export class ModelFetchError extends Error {
  override name = "ModelFetchError";
  constructor(readonly cid: string, readonly code: RejectionCode, reason: string) {
    super(`${cid}: ${reason}`);
  }
}

export interface FetchBudget {
  /** Give up on one CID after this long. */
  timeoutMs: number;
  /** Absolute time (ms since epoch) after which no fetch may still run. */
  deadlineMs?: number;
}

export interface ModelFetcher {
  /** Exact encoded size of a model of the task's spec: the byte cap of every fetch. */
  readonly maxBytes: number;
  get(cid: CID, budget: FetchBudget): Promise<Float32Array>;
  /** Fetch many with at most `concurrency` in flight; failures come back as ModelFetchError values. */
  getAll(cids: readonly CID[], budget: FetchBudget): Promise<(Float32Array | ModelFetchError)[]>;
  /** Encode, add and pin; the CID string the store gave. */
  put(weights: Float32Array): Promise<string>;
  /** Drop cached weights except those named (called when a round finalizes). */
  retain(keep: readonly CID[]): void;
  readonly cachedCount: number;
}

export function encodedModelBytes(spec: ModelSpec): number {
  const params = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  return encodeFlatWeights(new Float32Array(params), spec).length;
}

export function modelFetcher(o: {
  store: ModelStore;
  spec: ModelSpec;
  log: Logger;
  concurrency?: number;
  /** Called once when a fetch fails, e.g. to re-dial peers that may have moved; then retried once. */
  onMiss?: () => Promise<void>;
}): ModelFetcher {
  const maxBytes = encodedModelBytes(o.spec);
  const cache = new Map<string, Float32Array>();
  const concurrency = o.concurrency ?? 4;

  const fetchBytes = async (key: string, budget: FetchBudget): Promise<Uint8Array> => {
    const left = () => Math.max(0, Math.min(budget.timeoutMs, (budget.deadlineMs ?? Infinity) - Date.now()));
    if (left() <= 0) throw new ModelFetchError(key, "unavailable", "no time left before the deadline");
    try {
      return await o.store.get(key, { timeoutMs: left(), maxBytes });
    } catch (err) {
      if ((err as Error).name === "ContentTooLargeError" || /more than the limit|exceeded the limit/.test((err as Error).message)) {
        throw new ModelFetchError(key, "bad-encoding", `larger than the model's ${maxBytes} bytes`);
      }
      if (!o.onMiss || left() < 1000) throw new ModelFetchError(key, "unavailable", (err as Error).message);
      await o.onMiss().catch(() => undefined);
      try {
        return await o.store.get(key, { timeoutMs: Math.min(5000, left()), maxBytes });
      } catch {
        throw new ModelFetchError(key, "unavailable", (err as Error).message);
      }
    }
  };

  const get = async (cid: CID, budget: FetchBudget): Promise<Float32Array> => {
    const key = cid.toString();
    const hit = cache.get(key);
    if (hit) return hit;
    const bytes = await fetchBytes(key, budget);
    let weights: Float32Array;
    try {
      weights = decodeUpdate(bytes, o.spec);
    } catch (err) {
      const code: RejectionCode = (err as Error).name === "NonFiniteWeightsError" ? "non-finite" : "bad-encoding";
      throw new ModelFetchError(key, code, (err as Error).message);
    }
    // Pin what we fetched and validated (its blocks are local, so this is bounded by maxBytes):
    // we then serve it onward to other peers and to auditors.
    await o.store.pin(key).catch(() => undefined);
    cache.set(key, weights);
    return weights;
  };

  return {
    maxBytes,
    get,
    async getAll(cids, budget) {
      const out: (Float32Array | ModelFetchError)[] = new Array(cids.length);
      let next = 0;
      const worker = async () => {
        while (next < cids.length) {
          const i = next++;
          try {
            out[i] = await get(cids[i], budget);
          } catch (err) {
            out[i] = err instanceof ModelFetchError ? err : new ModelFetchError(cids[i].toString(), "unavailable", (err as Error).message);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, cids.length) }, worker));
      return out;
    },
    async put(weights) {
      const key = await o.store.put(encodeUpdate(weights, o.spec), { pin: true });
      cache.set(key, weights);
      return key;
    },
    retain(keep) {
      const k = new Set(keep.map((c) => c.toString()));
      for (const key of [...cache.keys()]) if (!k.has(key)) cache.delete(key);
    },
    get cachedCount() { return cache.size; },
  };
}
