/**
 * Compressed update bytes ("PFLC" v1): a trainer's delta against the round's global model, quantized
 * (q8, q4: QSGD-style stochastic rounding with one max-abs scale per chunk) or sparsified (topk).
 * PURE. Canonical like PFLW: the same update, base and seed give the same bytes, hence the same CID,
 * and the decoder accepts only the canonical form, so bytes ↔ decoded update is one-to-one.
 *
 * Layout (integers little-endian):
 *   0  "PFLC"   4 bytes magic
 *   4  version  u16 (= 1)
 *   6  headerLength u32
 *   10 header   UTF-8 JSON, canonical, right-padded with spaces so the data starts at a multiple of 4:
 *        q8/q4: {"format":"q8","base":CID,"seed":HEX64,"chunkSize":N,"tensors":[{"name":..,"shape":[..]},..]}
 *        topk:  {"format":"topk","base":CID,"seed":HEX64,"k":K,"tensors":[..]}
 *   .. data
 *        q8:   float32 scale[ceil(n/chunk)], then int8 level[n] in −127..127
 *        q4:   float32 scale[ceil(n/chunk)], then 4-bit two's-complement levels in −7..7, two per byte
 *              (element 2i in the low nibble), a last unused nibble 0
 *        topk: u32 index[k] strictly increasing, then float32 value[k]
 * Decoded: base + level·scale/s (s = 127 for q8, 7 for q4), or base + value at each index — one
 * float32 rounding per coordinate. A chunk with scale 0 has only zero levels; any other chunk has a
 * level of magnitude s (its largest coordinate), which is what the encoder always produces.
 * `base` names the global model the delta is against: a verifier refuses an update made against any
 * other model. `seed` is the public rounding seed (rounding.ts), recorded so the bytes can be reproduced.
 */
import { NonFiniteWeightsError, parameterCount, WeightsFormatError, WeightsSpecMismatchError } from "../ml/codec.ts";
import type { ModelSpec } from "../ml/types.ts";
import { seedFromHex, seedHex, uniforms } from "./rounding.ts";
import type { CompressionFormat } from "./spec.ts";

export const COMPRESSED_MAGIC = "PFLC";
export const COMPRESSED_VERSION = 1;
const PREFIX_BYTES = 10;

export type CompressedFormat = Exclude<CompressionFormat, "none">;
/** Largest level magnitude per quantized format. */
export const LEVELS: Record<"q8" | "q4", number> = { q8: 127, q4: 7 };

/** The global model a delta is taken against: its CID string (as on chain) and weights. */
export interface UpdateBase {
  cid: string;
  weights: Float32Array;
}

export interface CompressOptions {
  format: CompressedFormat;
  base: UpdateBase;
  spec: ModelSpec;
  /** 32-byte public rounding seed (rounding.ts roundingSeed) */
  seed: Uint8Array;
  /** q8/q4: coordinates per scale */
  chunkSize: number;
  /** topk: share of coordinates sent */
  topkFraction: number;
  /** topk error feedback: what earlier rounds did not send (added before selecting); zeros when absent */
  residual?: Float32Array | null;
}

export interface CompressedUpdate {
  bytes: Uint8Array;
  /** what every decoder gets: base + decoded delta */
  decoded: Float32Array;
  /** topk: the new residual to keep for the next round (delta + old residual − what was sent) */
  residual?: Float32Array;
}

export interface CompressedHeader {
  format: CompressedFormat;
  base: string;
  seed: string;
  chunkSize?: number;
  k?: number;
  tensors: { name: string; shape: number[] }[];
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function tensorList(tensors: readonly { name: string; shape: readonly number[] }[]): string {
  return "[" + tensors.map((t) => `{"name":${JSON.stringify(t.name)},"shape":${JSON.stringify([...t.shape])}}`).join(",") + "]";
}

function headerBytes(h: CompressedHeader): Uint8Array {
  const param = h.format === "topk" ? `"k":${h.k}` : `"chunkSize":${h.chunkSize}`;
  const json = utf8.encode(`{"format":${JSON.stringify(h.format)},"base":${JSON.stringify(h.base)},"seed":${JSON.stringify(h.seed)},${param},"tensors":${tensorList(h.tensors)}}`);
  const padded = Math.ceil((PREFIX_BYTES + json.length) / 4) * 4 - PREFIX_BYTES;
  const out = new Uint8Array(padded).fill(0x20);
  out.set(json);
  return out;
}

const numChunks = (n: number, chunk: number): number => Math.ceil(n / chunk);

function dataBytes(h: CompressedHeader, n: number): number {
  if (h.format === "topk") return 8 * h.k!;
  const scales = 4 * numChunks(n, h.chunkSize!);
  return scales + (h.format === "q8" ? n : Math.ceil(n / 2));
}

/** True when the bytes start with the PFLC magic (a compressed update, not plain PFLW weights). */
export function isCompressedUpdate(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x46 && bytes[2] === 0x4c && bytes[3] === 0x43;
}

/** Compress `weights` (the trainer's new local model) as a delta against `o.base`. */
export function compressUpdate(weights: Float32Array, o: CompressOptions): CompressedUpdate {
  const n = parameterCount(o.spec);
  if (weights.length !== n || o.base.weights.length !== n) {
    throw new WeightsSpecMismatchError(`update has ${weights.length} values and base ${o.base.weights.length}, the model has ${n} parameters`);
  }
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    d[i] = weights[i] - o.base.weights[i];
    if (!Number.isFinite(d[i])) throw new NonFiniteWeightsError("delta", i, d[i]);
  }
  const header: CompressedHeader = { format: o.format, base: o.base.cid, seed: seedHex(o.seed), tensors: o.spec.tensors.map((t) => ({ name: t.name, shape: [...t.shape] })) };
  let data: Uint8Array;
  let residual: Float32Array | undefined;
  if (o.format === "topk") {
    const r = topk(d, o.topkFraction, o.residual ?? null);
    header.k = r.indices.length;
    data = new Uint8Array(8 * r.indices.length);
    const view = new DataView(data.buffer);
    r.indices.forEach((idx, j) => {
      view.setUint32(4 * j, idx, true);
      view.setFloat32(4 * r.indices.length + 4 * j, r.values[j], true);
    });
    residual = r.residual;
  } else {
    if (!Number.isSafeInteger(o.chunkSize) || o.chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, got ${o.chunkSize}`);
    header.chunkSize = o.chunkSize;
    data = quantize(d, o.format, o.chunkSize, uniforms(o.seed, n));
  }
  const h = headerBytes(header);
  const bytes = new Uint8Array(PREFIX_BYTES + h.length + data.length);
  bytes.set(utf8.encode(COMPRESSED_MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint16(4, COMPRESSED_VERSION, true);
  view.setUint32(6, h.length, true);
  bytes.set(h, PREFIX_BYTES);
  bytes.set(data, PREFIX_BYTES + h.length);
  return { bytes, decoded: decompressUpdate(bytes, o.spec, o.base), ...(residual ? { residual } : {}) };
}

/** Stochastic rounding per chunk: level = sign · floor(|d|/scale · s + u), u ~ U[0,1) from the seed; E[level·scale/s] = d. */
function quantize(d: Float32Array, format: "q8" | "q4", chunk: number, u: Float64Array): Uint8Array {
  const n = d.length;
  const s = LEVELS[format];
  const chunks = numChunks(n, chunk);
  const out = new Uint8Array(4 * chunks + (format === "q8" ? n : Math.ceil(n / 2)));
  const view = new DataView(out.buffer);
  const levels = new Int8Array(n);
  for (let c = 0; c < chunks; c++) {
    const from = c * chunk, to = Math.min(n, from + chunk);
    let scale = 0;
    for (let i = from; i < to; i++) scale = Math.max(scale, Math.abs(d[i]));
    view.setFloat32(4 * c, scale, true); // |d| values are float32, so the max is exact
    if (scale === 0) continue;
    for (let i = from; i < to; i++) {
      const y = (Math.abs(d[i]) / scale) * s;
      const level = Math.min(s, Math.floor(y + u[i]));
      levels[i] = d[i] < 0 ? -level : level;
    }
  }
  const at = 4 * chunks;
  if (format === "q8") out.set(new Uint8Array(levels.buffer), at);
  else for (let i = 0; i < n; i++) out[at + (i >> 1)] |= (levels[i] & 0x0f) << ((i & 1) * 4);
  return out;
}

/**
 * Top-k with error feedback (Stich et al., "Sparsified SGD with Memory", NeurIPS 2018): v = delta +
 * residual; send the k largest |v| (ties: lower index first), keep the rest as the next residual.
 */
export function topk(d: Float32Array, fraction: number, residual: Float32Array | null): { indices: number[]; values: Float32Array; residual: Float32Array } {
  const n = d.length;
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`topk fraction must be in (0, 1], got ${fraction}`);
  if (residual && residual.length !== n) throw new WeightsSpecMismatchError(`residual has ${residual.length} values, the update ${n}`);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = d[i] + (residual ? residual[i] : 0);
  const k = Math.min(n, Math.max(1, Math.ceil(fraction * n)));
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => Math.abs(v[b]) - Math.abs(v[a]) || a - b);
  const indices = order.slice(0, k).sort((a, b) => a - b);
  const values = new Float32Array(k);
  const next = Float32Array.from(v);
  indices.forEach((idx, j) => { values[j] = v[idx]; next[idx] = 0; });
  return { indices, values, residual: next };
}

/** Parses and validates the prefix and canonical header of PFLC bytes (against `spec` when given). */
export function readCompressedHeader(bytes: Uint8Array, spec?: ModelSpec): { header: CompressedHeader; dataOffset: number } {
  if (bytes.length < PREFIX_BYTES) throw new WeightsFormatError(`truncated: ${bytes.length} bytes, a compressed update has at least ${PREFIX_BYTES}`);
  if (!isCompressedUpdate(bytes)) throw new WeightsFormatError(`bad magic, expected "${COMPRESSED_MAGIC}"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== COMPRESSED_VERSION) throw new WeightsFormatError(`unsupported compressed-update version ${version}, expected ${COMPRESSED_VERSION}`);
  const headerLength = view.getUint32(6, true);
  if (PREFIX_BYTES + headerLength > bytes.length) throw new WeightsFormatError(`truncated: header length ${headerLength} exceeds the ${bytes.length - PREFIX_BYTES} bytes after the prefix`);
  const raw = bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength);
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Strict.decode(raw));
  } catch (e) {
    throw new WeightsFormatError(`compressed-update header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new WeightsFormatError("compressed-update header is not a JSON object");
  const p = parsed as Record<string, unknown>;
  if (p.format !== "q8" && p.format !== "q4" && p.format !== "topk") throw new WeightsFormatError(`unknown compressed format ${JSON.stringify(p.format)} (q8, q4, topk)`);
  if (typeof p.base !== "string" || p.base.length === 0 || p.base.length > 200) throw new WeightsFormatError(`header base must be a CID string (got ${JSON.stringify(p.base)})`);
  if (typeof p.seed !== "string") throw new WeightsFormatError("header seed must be a string");
  try { seedFromHex(p.seed); } catch (e) { throw new WeightsFormatError((e as Error).message); }
  if (!Array.isArray(p.tensors) || !p.tensors.every((t) => typeof t === "object" && t !== null && typeof t.name === "string" && Array.isArray(t.shape) && t.shape.every((x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0))) {
    throw new WeightsFormatError("header tensors must be a list of {name, shape}");
  }
  const header: CompressedHeader = { format: p.format, base: p.base, seed: p.seed, tensors: p.tensors as CompressedHeader["tensors"] };
  const n = header.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  if (p.format === "topk") {
    if (!Number.isSafeInteger(p.k) || (p.k as number) < 1 || (p.k as number) > n) throw new WeightsFormatError(`header k must be an integer in 1..${n} (got ${JSON.stringify(p.k)})`);
    header.k = p.k as number;
  } else {
    if (!Number.isSafeInteger(p.chunkSize) || (p.chunkSize as number) < 1) throw new WeightsFormatError(`header chunkSize must be a positive integer (got ${JSON.stringify(p.chunkSize)})`);
    header.chunkSize = p.chunkSize as number;
  }
  const canonical = headerBytes(header);
  if (canonical.length !== raw.length || !canonical.every((b, i) => b === raw[i])) {
    throw new WeightsFormatError("compressed-update header is not in canonical form (key order, spacing or padding differ)");
  }
  const have = bytes.length - PREFIX_BYTES - headerLength;
  const need = dataBytes(header, n);
  if (have < need) throw new WeightsFormatError(`truncated: header declares ${need} data bytes, found ${have}`);
  if (have > need) throw new WeightsFormatError(`${have - need} trailing bytes after the ${need} data bytes the header declares`);
  if (spec) {
    if (header.tensors.length !== spec.tensors.length || header.tensors.some((t, i) => t.name !== spec.tensors[i].name || JSON.stringify(t.shape) !== JSON.stringify(spec.tensors[i].shape))) {
      throw new WeightsSpecMismatchError(`compressed update's tensors ${tensorList(header.tensors)} differ from model "${spec.model}"'s ${tensorList(spec.tensors)}`);
    }
  }
  return { header, dataOffset: PREFIX_BYTES + headerLength };
}

/** The base CID a compressed update names, or a WeightsFormatError. */
export function compressedBase(bytes: Uint8Array): string {
  return readCompressedHeader(bytes).header.base;
}

/**
 * Validates PFLC bytes and returns base + decoded delta as float32. The update must be against
 * `base` (same CID string) and fit `spec`; every scale, value and result must be finite.
 */
export function decompressUpdate(bytes: Uint8Array, spec: ModelSpec, base: UpdateBase): Float32Array {
  const { header, dataOffset } = readCompressedHeader(bytes, spec);
  if (header.base !== base.cid) {
    throw new WeightsFormatError(`update is a delta against ${header.base}, not against this round's global model ${base.cid}`);
  }
  const n = parameterCount(spec);
  if (base.weights.length !== n) throw new WeightsSpecMismatchError(`base has ${base.weights.length} values, the model has ${n} parameters`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataOffset, bytes.byteLength - dataOffset);
  const out = Float32Array.from(base.weights);
  if (header.format === "topk") {
    const k = header.k!;
    let prev = -1;
    for (let j = 0; j < k; j++) {
      const idx = view.getUint32(4 * j, true);
      if (idx <= prev || idx >= n) throw new WeightsFormatError(`top-k index ${j} is ${idx}: indices must be strictly increasing and below ${n}`);
      prev = idx;
      const value = view.getFloat32(4 * k + 4 * j, true);
      if (!Number.isFinite(value)) throw new NonFiniteWeightsError("topk-values", j, value);
      out[idx] = base.weights[idx] + value;
    }
  } else {
    const s = LEVELS[header.format];
    const chunk = header.chunkSize!;
    const chunks = numChunks(n, chunk);
    const at = 4 * chunks;
    const level = (i: number): number => {
      if (header.format === "q8") return view.getInt8(at + i);
      const nib = (view.getUint8(at + (i >> 1)) >> ((i & 1) * 4)) & 0x0f;
      return nib >= 8 ? nib - 16 : nib;
    };
    for (let c = 0; c < chunks; c++) {
      const scale = view.getFloat32(4 * c, true);
      if (!Number.isFinite(scale)) throw new NonFiniteWeightsError("scales", c, scale);
      if (scale < 0 || Object.is(scale, -0)) throw new WeightsFormatError(`chunk ${c} has negative scale ${scale}`);
      const from = c * chunk, to = Math.min(n, from + chunk);
      let maxLevel = 0;
      for (let i = from; i < to; i++) {
        const q = level(i);
        if (q < -s || q > s) throw new WeightsFormatError(`coordinate ${i} has level ${q}, outside −${s}..${s}`);
        maxLevel = Math.max(maxLevel, Math.abs(q));
        if (q !== 0) out[i] = base.weights[i] + (q * scale) / s;
      }
      if (scale === 0 ? maxLevel !== 0 : maxLevel !== s) {
        throw new WeightsFormatError(`chunk ${c} is not canonical: scale ${scale} with largest level ${maxLevel} (expected ${scale === 0 ? 0 : s})`);
      }
    }
    if (header.format === "q4" && n % 2 === 1 && (view.getUint8(at + (n >> 1)) & 0xf0) !== 0) throw new WeightsFormatError("the unused last nibble is not zero");
  }
  for (let i = 0; i < n; i++) if (!Number.isFinite(out[i])) throw new NonFiniteWeightsError("decoded", i, out[i]);
  return out;
}
