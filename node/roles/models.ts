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
import { decodeUpdate, encodeUpdate, type UpdateBase } from "../protocol/model-bytes.ts";

export class ModelFetchError extends Error {
  override name = "ModelFetchError";
  constructor(readonly cid: string, readonly code: RejectionCode, reason: string) {
    super(`${cid}: ${reason}`);
  }
}

export interface FetchBudget {
  /** Give up one fetch attempt for a CID after this long (it is retried while time is left). */
  timeoutMs: number;
  /**
   * Absolute time (ms since epoch) after which no fetch may still run. With it, a CID that could
   * not be fetched is retried (re-dialing peers) until this deadline; without it, one retry.
   */
  deadlineMs?: number;
  /** Set when fetching trainers' updates: the round's global model, which compressed updates are deltas against (decodeUpdate). */
  base?: UpdateBase;
}

/** Shortest time worth starting another fetch attempt in. */
const MIN_ATTEMPT_MS = 500;

export interface ModelFetcher {
  /** Exact encoded size of a model of the task's spec: the byte cap of every fetch. */
  readonly maxBytes: number;
  get(cid: CID, budget: FetchBudget): Promise<Float32Array>;
  /** Fetch many with at most `concurrency` in flight; failures come back as ModelFetchError values. */
  getAll(cids: readonly CID[], budget: FetchBudget): Promise<(Float32Array | ModelFetchError)[]>;
  /** Encode, add and pin; the CID string the store gave. */
  put(weights: Float32Array): Promise<string>;
  /** Add and pin already-encoded update bytes (e.g. compressed), caching what they decode to. */
  putBytes(bytes: Uint8Array, decoded: Float32Array): Promise<string>;
  /** Drop cached weights except those named (called when a round finalizes). */
  retain(keep: readonly CID[]): void;
  readonly cachedCount: number;
  /** Model bytes received from the store by fetches so far (what a round costs this peer in download). */
  readonly fetchedBytes: number;
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
  /** Called when a fetch fails (at most once a second), e.g. to re-dial peers that may have moved, before it is retried. */
  onMiss?: () => Promise<void>;
}): ModelFetcher {
  const maxBytes = encodedModelBytes(o.spec);
  const cache = new Map<string, Float32Array>();
  const concurrency = o.concurrency ?? 4;
  let fetchedBytes = 0;

  const remaining = (budget: FetchBudget) => Math.max(0, (budget.deadlineMs ?? Infinity) - Date.now());
  // Re-dialing every peer is not free: at most once per second across all fetches in flight.
  let lastMiss = 0;
  let missing: Promise<void> | undefined;
  const redial = async () => {
    if (!o.onMiss) return;
    if (!missing && Date.now() - lastMiss >= 1000) {
      lastMiss = Date.now();
      missing = o.onMiss().catch(() => undefined).finally(() => { missing = undefined; });
    }
    await missing;
  };

  /** One attempt: fetch within `attemptMs`, decode, pin, cache. Throws ModelFetchError. */
  const attempt = async (key: string, attemptMs: number, base?: UpdateBase): Promise<Float32Array> => {
    let bytes: Uint8Array;
    try {
      bytes = await o.store.get(key, { timeoutMs: attemptMs, maxBytes });
      fetchedBytes += bytes.length;
    } catch (err) {
      if ((err as Error).name === "ContentTooLargeError" || /more than the limit|exceeded the limit/.test((err as Error).message)) {
        throw new ModelFetchError(key, "bad-encoding", `larger than the model's ${maxBytes} bytes`);
      }
      throw new ModelFetchError(key, "unavailable", (err as Error).message);
    }
    let weights: Float32Array;
    try {
      weights = decodeUpdate(bytes, o.spec, base);
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

  /** The next attempt's time limit, or 0 when no attempt fits before the deadline. */
  const attemptMs = (budget: FetchBudget): number => {
    const left = remaining(budget);
    return left < MIN_ATTEMPT_MS ? 0 : Math.min(budget.timeoutMs, left);
  };

  const noTime = (key: string) => new ModelFetchError(key, "unavailable", "no time left before the deadline");

  /**
   * Bytes that did not come are retried (re-dialing peers, backing off) until the budget's deadline:
   * a slow provider or a loaded fetcher is not taken for content that does not exist. Content that
   * came but is too large or does not decode is final at once.
   */
  const get = async (cid: CID, budget: FetchBudget): Promise<Float32Array> => {
    const key = cid.toString();
    for (let tries = 1; ; tries++) {
      const hit = cache.get(key);
      if (hit) return hit;
      const ms = attemptMs(budget);
      if (ms === 0) throw noTime(key);
      try {
        return await attempt(key, ms, budget.base);
      } catch (err) {
        const e = err as ModelFetchError;
        if (e.code !== "unavailable" || (budget.deadlineMs === undefined && tries >= 2) || attemptMs(budget) === 0) throw e;
        await redial();
        await new Promise((r) => setTimeout(r, Math.min(250 * tries, 2000, remaining(budget))));
      }
    }
  };

  return {
    maxBytes,
    get,
    async getAll(cids, budget) {
      // Passes over what is still missing, so one slow CID never holds the others back: every CID
      // gets its first attempt before any gets its second, until the deadline.
      const out: (Float32Array | ModelFetchError)[] = cids.map((c) => cache.get(c.toString()) ?? noTime(c.toString()));
      for (let pass = 1; ; pass++) {
        const todo = out.flatMap((r, i) => (r instanceof ModelFetchError && r.code === "unavailable" ? [i] : []));
        if (todo.length === 0) break;
        if (pass > 1) {
          if (budget.deadlineMs === undefined ? pass > 2 : attemptMs(budget) === 0) break;
          await redial();
          await new Promise((r) => setTimeout(r, Math.min(250 * pass, 2000, remaining(budget))));
        }
        const ms = attemptMs(budget);
        if (ms === 0) break;
        let next = 0;
        const worker = async () => {
          while (next < todo.length) {
            const i = todo[next++];
            const key = cids[i].toString();
            const hit = cache.get(key);
            if (hit) { out[i] = hit; continue; }
            const left = attemptMs(budget);
            if (left === 0) continue;
            try {
              out[i] = await attempt(key, Math.min(ms, left), budget.base);
            } catch (err) {
              out[i] = err instanceof ModelFetchError ? err : new ModelFetchError(key, "unavailable", (err as Error).message);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
      }
      return out;
    },
    async put(weights) {
      const key = await o.store.put(encodeUpdate(weights, o.spec), { pin: true });
      cache.set(key, weights);
      return key;
    },
    async putBytes(bytes, decoded) {
      const key = await o.store.put(bytes, { pin: true });
      cache.set(key, decoded);
      return key;
    },
    retain(keep) {
      const k = new Set(keep.map((c) => c.toString()));
      for (const key of [...cache.keys()]) if (!k.has(key)) cache.delete(key);
    },
    get cachedCount() { return cache.size; },
    get fetchedBytes() { return fetchedBytes; },
  };
}
