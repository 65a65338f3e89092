/**
 * CIDs: the bytes behind one (fetched over IPFS after dialling the peers registered on chain, up to
 * a byte cap) and what they are — weights with per-layer statistics, a model spec, or opaque bytes.
 */
import { ContentTooLargeError } from "../../ipfs/errors.ts";
import { decodeModelSpec, decodeWeights, weightsL2Norm, WeightsSpecMismatchError } from "../../node/ml/codec.ts";
import type { ModelSpec } from "../../node/ml/types.ts";
import { errorMessage } from "../chain-client.ts";
import { parseCid } from "../cid.ts";
import { ContentNotFoundError } from "../content.ts";
import { cidUses, type CidUse } from "../rounds.ts";
import type { ExplorerContext } from "./context.ts";
import { CidTooLargeError, NotFoundError } from "./errors.ts";
import type { DialKnownPeers } from "./peers.ts";

/** Default cap on the bytes one CID page or raw download fetches (16 MiB). */
export const DEFAULT_MAX_CID_BYTES = 16 * 1024 * 1024;

export interface ModelLayer {
  name: string;
  shape: number[];
  parameters: number;
  l2Norm: number;
  min: number;
  max: number;
  mean: number;
}

export interface CidDetail {
  cid: string;
  size: number;
  kind: "weights" | "model-spec" | "bytes";
  matchesTaskSpec: boolean | null;
  specProblem: string | null;
  layers: ModelLayer[];
  totalParameters: number;
  l2Norm: number | null;
  spec: ModelSpec | null;
  preview: string | null;
  uses: CidUse[];
}

export interface CidBytes {
  cid: string;
  bytes: Uint8Array;
  uses: CidUse[];
}

export class CidService {
  constructor(
    private readonly ctx: ExplorerContext,
    private readonly taskSpec: () => Promise<ModelSpec | null>,
    private readonly dialKnownPeers: DialKnownPeers,
    readonly maxBytes: number = DEFAULT_MAX_CID_BYTES,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`maxCidBytes must be a positive integer, got ${maxBytes}`);
  }

  /** The bytes behind `text`; NotFoundError when unparsable or unavailable, CidTooLargeError over the cap. */
  async cidBytes(text: string): Promise<CidBytes> {
    const parsed = parseCid(text);
    if (!parsed) throw new NotFoundError("CID", `"${text}" is not a valid CID`);
    const cid = parsed.toString();
    const uses = cidUses(this.ctx.index, cid);
    const referenced = uses.length > 0;
    await this.dialKnownPeers();
    try {
      return { cid, bytes: await this.fetch(cid, this.ctx.cidTimeoutMs, referenced), uses };
    } catch (error) {
      if (!(error instanceof ContentNotFoundError)) throw error;
      if (!referenced) throw new NotFoundError("CID", `${cid}: it is not referenced on chain and no IPFS peer provided it (${error.message})`);
      await this.dialKnownPeers(true);
      try {
        return { cid, bytes: await this.fetch(cid, Math.min(3000, this.ctx.cidTimeoutMs), referenced), uses };
      } catch (again) {
        if (again instanceof CidTooLargeError) throw again;
        throw new NotFoundError("CID", `${cid}: it is referenced on chain (${uses.map((u) => u.kind).join(", ")}) but no IPFS peer provided it (${errorMessage(again)})`);
      }
    }
  }

  private async fetch(cid: string, timeoutMs: number, referenced: boolean): Promise<Uint8Array> {
    try {
      return await this.ctx.content.get(cid, { timeoutMs, referenced, maxBytes: this.maxBytes });
    } catch (error) {
      if (error instanceof ContentTooLargeError) throw new CidTooLargeError(cid, this.maxBytes, error.sizeBytes, error.declared);
      throw error;
    }
  }

  async cid(text: string): Promise<CidDetail> {
    const { cid, bytes, uses } = await this.cidBytes(text);
    const detail: CidDetail = {
      cid,
      size: bytes.length,
      kind: "bytes",
      matchesTaskSpec: null,
      specProblem: null,
      layers: [],
      totalParameters: 0,
      l2Norm: null,
      spec: null,
      preview: null,
      uses,
    };
    try {
      const weights = decodeWeights(bytes);
      detail.kind = "weights";
      detail.layers = weights.tensors.map((t) => layerStats(t.name, t.shape, t.values));
      detail.totalParameters = detail.layers.reduce((s, l) => s + l.parameters, 0);
      detail.l2Norm = weightsL2Norm(weights);
      const spec = await this.taskSpec();
      if (spec) {
        try {
          decodeWeights(bytes, spec);
          detail.matchesTaskSpec = true;
        } catch (error) {
          detail.matchesTaskSpec = false;
          detail.specProblem = error instanceof WeightsSpecMismatchError ? error.message : errorMessage(error);
        }
      }
      return detail;
    } catch {
      // not a weights file
    }
    try {
      detail.spec = decodeModelSpec(bytes);
      detail.kind = "model-spec";
      return detail;
    } catch {
      // opaque bytes
    }
    const head = bytes.subarray(0, 256);
    detail.preview = Array.from(head, (b) => b.toString(16).padStart(2, "0")).join(" ");
    return detail;
  }
}

function layerStats(name: string, shape: number[], values: Float32Array): ModelLayer {
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const n = values.length;
  return { name, shape, parameters: n, l2Norm: weightsL2Norm(values), min: n ? min : 0, max: n ? max : 0, mean: n ? sum / n : 0 };
}
