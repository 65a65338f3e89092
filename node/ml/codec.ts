/**
 * Canonical byte encoding of model weights and model specs. PURE: no tfjs here, so peers,
 * aggregators and verifiers can hash and check weights without a training backend.
 *
 * Weights file layout (all integers little-endian):
 *   0  "PFLW"                      4 bytes magic
 *   4  version                     u16 (= 1)
 *   6  headerLength                u32
 *   10 header                      UTF-8 JSON, canonical: {"dtype":"float32","tensors":[{"name":..,"shape":[..]},..]}
 *                                  right-padded with spaces so the data starts at a multiple of 4
 *   .. data                        float32 LE, tensors concatenated in header order, row-major
 * Same weights → same bytes; a decoder accepts only the canonical form, so bytes ↔ weights is one-to-one.
 */
import type { ModelSpec, ModelWeights, NamedTensor } from "./types.ts";
import { canonicalCompressionJson, parseCompressionSpec } from "../compression/spec.ts";
import { CID } from "multiformats/cid";

export const WEIGHTS_MAGIC = "PFLW";
export const WEIGHTS_VERSION = 1;
const PREFIX_BYTES = 10;

/** The bytes are not a well-formed canonical PFLW file (magic, version, header, length). */
export class WeightsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WeightsFormatError";
  }
}

/** Well-formed weights that do not fit the expected model spec (tensor names, order or shapes). */
export class WeightsSpecMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WeightsSpecMismatchError";
  }
}

/** Weights containing NaN or ±Infinity. */
export class NonFiniteWeightsError extends Error {
  constructor(
    readonly tensorName: string,
    readonly index: number,
    readonly value: number,
  ) {
    super(`tensor "${tensorName}" has non-finite value ${value} at flat index ${index}`);
    this.name = "NonFiniteWeightsError";
  }
}

/** Bytes that are not a canonical model spec. */
export class ModelSpecFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelSpecFormatError";
  }
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function canonicalTensorList(tensors: readonly { name: string; shape: readonly number[] }[]): string {
  return "[" + tensors.map((t) => `{"name":${JSON.stringify(t.name)},"shape":${JSON.stringify([...t.shape])}}`).join(",") + "]";
}

function weightsHeader(tensors: readonly { name: string; shape: readonly number[] }[]): Uint8Array {
  const json = utf8.encode(`{"dtype":"float32","tensors":${canonicalTensorList(tensors)}}`);
  const padded = Math.ceil((PREFIX_BYTES + json.length) / 4) * 4 - PREFIX_BYTES;
  const header = new Uint8Array(padded).fill(0x20);
  header.set(json);
  return header;
}

function checkTensorList(tensors: readonly { name: unknown; shape: unknown }[], ErrorClass: new (m: string) => Error): void {
  const seen = new Set<string>();
  tensors.forEach((t, i) => {
    if (typeof t.name !== "string" || t.name.length === 0) throw new ErrorClass(`tensor ${i} has no name (got ${JSON.stringify(t.name)})`);
    if (seen.has(t.name)) throw new ErrorClass(`tensor name "${t.name}" appears twice`);
    seen.add(t.name);
    if (!isValidShape(t.shape)) throw new ErrorClass(`tensor "${t.name}" has invalid shape ${JSON.stringify(t.shape)}`);
  });
}

/** Canonical bytes of a model's weights. Throws NonFiniteWeightsError on NaN/Inf, WeightsFormatError on bad input. */
export function encodeWeights(w: ModelWeights): Uint8Array {
  checkTensorList(w.tensors, WeightsFormatError);
  for (const t of w.tensors) {
    const n = shapeSize(t.shape);
    if (t.values.length !== n) {
      throw new WeightsFormatError(`tensor "${t.name}" has shape ${JSON.stringify(t.shape)} (${n} values) but ${t.values.length} values`);
    }
    assertFinite(t);
  }
  const header = weightsHeader(w.tensors);
  const total = w.tensors.reduce((s, t) => s + t.values.length, 0);
  const out = new Uint8Array(PREFIX_BYTES + header.length + total * 4);
  const view = new DataView(out.buffer);
  out.set(utf8.encode(WEIGHTS_MAGIC), 0);
  view.setUint16(4, WEIGHTS_VERSION, true);
  view.setUint32(6, header.length, true);
  out.set(header, PREFIX_BYTES);
  let offset = PREFIX_BYTES + header.length;
  for (const t of w.tensors) {
    if (littleEndian) {
      out.set(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength), offset);
    } else {
      for (let i = 0; i < t.values.length; i++) view.setFloat32(offset + 4 * i, t.values[i], true);
    }
    offset += t.values.byteLength;
  }
  return out;
}

function assertFinite(t: NamedTensor): void {
  const v = t.values;
  for (let i = 0; i < v.length; i++) {
    // v[i] - v[i] is 0 for finite values and NaN for NaN/±Inf: one comparison per element.
    if (v[i] - v[i] !== 0) throw new NonFiniteWeightsError(t.name, i, v[i]);
  }
}

/**
 * Parses canonical PFLW bytes. With `expected`, the tensor names, order and shapes must equal the spec's.
 * The returned arrays are copies (they do not alias `bytes`).
 */
export function decodeWeights(bytes: Uint8Array, expected?: ModelSpec): ModelWeights {
  const { tensors, dataOffset } = parseWeightsHeader(bytes, expected);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = dataOffset;
  const out: NamedTensor[] = [];
  for (const t of tensors) {
    const n = shapeSize(t.shape);
    const values = readFloats(bytes, view, offset, n);
    const tensor = { name: t.name, shape: [...t.shape], values };
    assertFinite(tensor);
    out.push(tensor);
    offset += n * 4;
  }
  return { tensors: out };
}

/**
 * Canonical bytes straight to the flat vector the rules work on (one copy), validated exactly as
 * decodeWeights validates them: header canonical, names and shapes equal to `spec`, every value finite.
 */
export function decodeFlatWeights(bytes: Uint8Array, spec: ModelSpec): Float32Array {
  const { tensors, dataOffset } = parseWeightsHeader(bytes, spec);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const total = tensors.reduce((s, t) => s + shapeSize(t.shape), 0);
  const flat = readFloats(bytes, view, dataOffset, total);
  let offset = 0;
  for (const t of tensors) {
    const n = shapeSize(t.shape);
    assertFinite({ name: t.name, shape: t.shape, values: flat.subarray(offset, offset + n) });
    offset += n;
  }
  return flat;
}

/** The flat vector's canonical bytes for `spec` (one copy; same bytes as encodeWeights(unflattenWeights(flat, spec))). */
export function encodeFlatWeights(flat: Float32Array, spec: ModelSpec): Uint8Array {
  const total = parameterCount(spec);
  if (flat.length !== total) {
    throw new WeightsSpecMismatchError(`flat vector has ${flat.length} values, the model has ${total} parameters`);
  }
  const tensors: NamedTensor[] = [];
  let offset = 0;
  for (const t of spec.tensors) {
    const n = shapeSize(t.shape);
    tensors.push({ name: t.name, shape: [...t.shape], values: flat.subarray(offset, offset + n) });
    offset += n;
  }
  return encodeWeights({ tensors });
}

function readFloats(bytes: Uint8Array, view: DataView, offset: number, n: number): Float32Array {
  const values = new Float32Array(n);
  if (littleEndian) {
    new Uint8Array(values.buffer).set(bytes.subarray(offset, offset + n * 4));
  } else {
    for (let i = 0; i < n; i++) values[i] = view.getFloat32(offset + 4 * i, true);
  }
  return values;
}

function parseWeightsHeader(bytes: Uint8Array, expected?: ModelSpec): { tensors: { name: string; shape: number[] }[]; dataOffset: number } {
  if (bytes.length < PREFIX_BYTES) throw new WeightsFormatError(`truncated: ${bytes.length} bytes, a weights file has at least ${PREFIX_BYTES}`);
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== WEIGHTS_MAGIC) throw new WeightsFormatError(`bad magic ${JSON.stringify(magic)}, expected "${WEIGHTS_MAGIC}"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== WEIGHTS_VERSION) throw new WeightsFormatError(`unsupported version ${version}, expected ${WEIGHTS_VERSION}`);
  const headerLength = view.getUint32(6, true);
  if (PREFIX_BYTES + headerLength > bytes.length) {
    throw new WeightsFormatError(`truncated: header length ${headerLength} exceeds the ${bytes.length - PREFIX_BYTES} bytes after the prefix`);
  }
  const headerBytes = bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength);
  let header: unknown;
  try {
    header = JSON.parse(utf8Strict.decode(headerBytes));
  } catch (e) {
    throw new WeightsFormatError(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  const h = header as { dtype?: unknown; tensors?: unknown };
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new WeightsFormatError("header is not a JSON object");
  if (h.dtype !== "float32") throw new WeightsFormatError(`unsupported dtype ${JSON.stringify(h.dtype)}, expected "float32"`);
  if (!Array.isArray(h.tensors)) throw new WeightsFormatError("header has no tensors array");
  const list = h.tensors as { name: unknown; shape: unknown }[];
  if (!list.every((t) => typeof t === "object" && t !== null)) throw new WeightsFormatError("header tensors must be objects");
  checkTensorList(list, WeightsFormatError);
  const tensors = list as { name: string; shape: number[] }[];
  const canonical = weightsHeader(tensors);
  if (canonical.length !== headerBytes.length || !canonical.every((b, i) => b === headerBytes[i])) {
    throw new WeightsFormatError("header is not in canonical form (key order, spacing or padding differ)");
  }
  const dataBytes = bytes.length - PREFIX_BYTES - headerLength;
  const needed = tensors.reduce((s, t) => s + shapeSize(t.shape), 0) * 4;
  if (dataBytes < needed) throw new WeightsFormatError(`truncated: header declares ${needed} data bytes, found ${dataBytes}`);
  if (dataBytes > needed) throw new WeightsFormatError(`${dataBytes - needed} trailing bytes after the ${needed} data bytes the header declares`);
  if (expected) checkAgainstSpec(tensors, expected);
  return { tensors, dataOffset: PREFIX_BYTES + headerLength };
}

function checkAgainstSpec(tensors: readonly { name: string; shape: readonly number[] }[], spec: ModelSpec): void {
  const want = spec.tensors;
  if (tensors.length !== want.length) {
    throw new WeightsSpecMismatchError(
      `expected ${want.length} tensors for model "${spec.model}" (${want.map((t) => t.name).join(", ")}), got ${tensors.length} (${tensors.map((t) => t.name).join(", ")})`,
    );
  }
  for (let i = 0; i < want.length; i++) {
    if (tensors[i].name !== want[i].name) {
      throw new WeightsSpecMismatchError(`tensor ${i}: expected name "${want[i].name}", got "${tensors[i].name}"`);
    }
    if (JSON.stringify([...tensors[i].shape]) !== JSON.stringify([...want[i].shape])) {
      throw new WeightsSpecMismatchError(
        `tensor "${want[i].name}": expected shape ${JSON.stringify(want[i].shape)}, got ${JSON.stringify(tensors[i].shape)}`,
      );
    }
  }
}

/** Checks that in-memory weights fit a spec (names, order, shapes, value counts). */
export function assertWeightsMatchSpec(w: ModelWeights, spec: ModelSpec): void {
  checkAgainstSpec(w.tensors, spec);
  for (const t of w.tensors) {
    if (t.values.length !== shapeSize(t.shape)) {
      throw new WeightsSpecMismatchError(`tensor "${t.name}" has ${t.values.length} values, shape ${JSON.stringify(t.shape)} needs ${shapeSize(t.shape)}`);
    }
  }
}

/** Total number of parameters described by a spec or held by weights. */
export function parameterCount(like: ModelSpec | ModelWeights): number {
  return like.tensors.reduce((s, t) => s + shapeSize(t.shape), 0);
}

/** All tensors concatenated in order into one vector (the form aggregation rules work on). */
export function flattenWeights(w: ModelWeights): Float32Array {
  const out = new Float32Array(w.tensors.reduce((s, t) => s + t.values.length, 0));
  let offset = 0;
  for (const t of w.tensors) {
    out.set(t.values, offset);
    offset += t.values.length;
  }
  return out;
}

/** Inverse of flattenWeights: cuts a flat vector into the tensors of a spec (or of example weights). Copies. */
export function unflattenWeights(flat: Float32Array, like: ModelSpec | ModelWeights): ModelWeights {
  const total = parameterCount(like);
  if (flat.length !== total) {
    throw new WeightsSpecMismatchError(`flat vector has ${flat.length} values, the model has ${total} parameters`);
  }
  let offset = 0;
  const tensors = like.tensors.map((t) => {
    const n = shapeSize(t.shape);
    const values = flat.slice(offset, offset + n);
    offset += n;
    return { name: t.name, shape: [...t.shape], values };
  });
  return { tensors };
}

/** Euclidean norm over all parameters (accumulated in float64). */
export function weightsL2Norm(w: ModelWeights | Float32Array): number {
  const arrays = w instanceof Float32Array ? [w] : w.tensors.map((t) => t.values);
  let sum = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) sum += a[i] * a[i];
  return Math.sqrt(sum);
}

/** Canonical JSON bytes of a model spec (fixed key order, no whitespace): the content of the spec CID. */
export function encodeModelSpec(spec: ModelSpec): Uint8Array {
  validateSpec(spec);
  const json =
    `{"model":${JSON.stringify(spec.model)},"inputShape":${JSON.stringify([...spec.inputShape])},` +
    `"numClasses":${JSON.stringify(spec.numClasses)},"tensors":${canonicalTensorList(spec.tensors)}` +
    // optional update compression (node/compression/spec.ts): absent keeps earlier spec CIDs unchanged
    (spec.compression ? `,"compression":${canonicalCompressionJson(spec.compression)}` : "") +
    // optional public root set of root-validation (node/ml/root-set.ts): absent keeps earlier spec CIDs unchanged
    (spec.rootSet !== undefined ? `,"rootSet":${JSON.stringify(spec.rootSet)}` : "") + "}";
  return utf8.encode(json);
}

/** Parses and validates canonical model-spec bytes. */
export function decodeModelSpec(bytes: Uint8Array): ModelSpec {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Strict.decode(bytes));
  } catch (e) {
    throw new ModelSpecFormatError(`model spec is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ModelSpecFormatError("model spec is not a JSON object");
  const p = parsed as Record<string, unknown>;
  if (!Array.isArray(p.tensors) || !p.tensors.every((t) => typeof t === "object" && t !== null)) {
    throw new ModelSpecFormatError("model spec has no tensors array of objects");
  }
  const spec = {
    model: p.model,
    inputShape: p.inputShape,
    numClasses: p.numClasses,
    tensors: (p.tensors as { name: unknown; shape: unknown }[]).map((t) => ({ name: t.name, shape: t.shape })),
  } as ModelSpec;
  if (p.compression !== undefined) {
    try { spec.compression = parseCompressionSpec(p.compression); } catch (e) { throw new ModelSpecFormatError((e as Error).message); }
  }
  if (p.rootSet !== undefined) spec.rootSet = p.rootSet as string;
  validateSpec(spec);
  const canonical = encodeModelSpec(spec);
  if (canonical.length !== bytes.length || !canonical.every((b, i) => b === bytes[i])) {
    throw new ModelSpecFormatError("model spec is not in canonical form (unknown keys, key order or whitespace differ)");
  }
  return spec;
}

function validateSpec(spec: ModelSpec): void {
  if (spec.rootSet !== undefined) {
    let ok = false;
    try { ok = typeof spec.rootSet === "string" && CID.parse(spec.rootSet).toString() === spec.rootSet; } catch { ok = false; }
    if (!ok) throw new ModelSpecFormatError(`rootSet ${JSON.stringify(spec.rootSet)} is not a CID string (base32, as the root set's IPFS CID prints)`);
  }
  if (spec.model !== "mlp" && spec.model !== "cnn") throw new ModelSpecFormatError(`unknown model ${JSON.stringify(spec.model)}, expected "mlp" or "cnn"`);
  if (!isValidShape(spec.inputShape) || spec.inputShape.length === 0) {
    throw new ModelSpecFormatError(`invalid inputShape ${JSON.stringify(spec.inputShape)}`);
  }
  if (!Number.isSafeInteger(spec.numClasses) || spec.numClasses < 2) throw new ModelSpecFormatError(`invalid numClasses ${JSON.stringify(spec.numClasses)}`);
  if (!Array.isArray(spec.tensors)) throw new ModelSpecFormatError("model spec has no tensors array");
  checkTensorList(spec.tensors, ModelSpecFormatError);
  if (spec.compression !== undefined) {
    try { parseCompressionSpec(spec.compression); } catch (e) { throw new ModelSpecFormatError((e as Error).message); }
  }
}
