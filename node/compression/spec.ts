/**
 * Which update-compression format a task uses, as written in the task's model spec JSON on IPFS
 * (`"compression"`, absent = plain float32 PFLW updates). PURE, and free of imports from
 * node/ml/codec.ts so the spec codec can validate this part without an import cycle.
 *
 *   { "format": "q8", "chunkSize": 256, "topkFraction": 0.1, "tiers": { "iot-board": "q4" } }
 *
 * `format` is what a trainer sends by default; `tiers` override it per device tier (node/devices).
 * A verifier accepts exactly the formats this spec names (the default and every tier override).
 */

export const COMPRESSION_FORMATS = ["none", "q8", "q4", "topk"] as const;
export type CompressionFormat = (typeof COMPRESSION_FORMATS)[number];

export interface CompressionSpec {
  /** default format of a trainer's update */
  format: CompressionFormat;
  /** q8/q4: values per scale (one float32 max-abs scale per chunk of the flat delta) */
  chunkSize: number;
  /** topk: share of the delta's coordinates sent each round, in (0, 0.4] */
  topkFraction: number;
  /** per device tier overrides, tier name → format (keys sorted in the canonical JSON) */
  tiers: Record<string, CompressionFormat>;
}

export const DEFAULT_CHUNK_SIZE = 256;
export const DEFAULT_TOPK_FRACTION = 0.1;
/** 8 bytes per kept coordinate: above 0.4 top-k would not be smaller than float32 (and the fetch cap is the float32 size). */
export const MAX_TOPK_FRACTION = 0.4;

/** The compression part of a model spec is missing a field, or a value is out of range. */
export class CompressionSpecError extends Error {
  override name = "CompressionSpecError";
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function isCompressionFormat(v: unknown): v is CompressionFormat {
  return typeof v === "string" && (COMPRESSION_FORMATS as readonly string[]).includes(v);
}

/** A name as a format, or CompressionSpecError naming the known ones (CLI flags and spec JSON). */
export function compressionFormatOf(v: unknown, where = "compression format"): CompressionFormat {
  if (!isCompressionFormat(v)) throw new CompressionSpecError(`${where} must be one of ${COMPRESSION_FORMATS.join(", ")} (got ${JSON.stringify(v)})`);
  return v;
}

/** Validates a parsed `compression` value and fills the defaults. Unknown keys are errors. */
export function parseCompressionSpec(v: unknown): CompressionSpec {
  if (!isObject(v)) throw new CompressionSpecError(`model spec "compression" must be an object (got ${JSON.stringify(v)})`);
  for (const k of Object.keys(v)) {
    if (!["format", "chunkSize", "topkFraction", "tiers"].includes(k)) throw new CompressionSpecError(`model spec compression has unknown key ${JSON.stringify(k)}`);
  }
  const format = compressionFormatOf(v.format, "compression.format");
  const chunkSize = v.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || (chunkSize as number) < 1 || (chunkSize as number) > 1 << 20) {
    throw new CompressionSpecError(`compression.chunkSize must be an integer in 1..${1 << 20} (got ${JSON.stringify(chunkSize)})`);
  }
  const topkFraction = v.topkFraction ?? DEFAULT_TOPK_FRACTION;
  if (typeof topkFraction !== "number" || !(topkFraction > 0) || topkFraction > MAX_TOPK_FRACTION) {
    throw new CompressionSpecError(`compression.topkFraction must be a number in (0, ${MAX_TOPK_FRACTION}] (got ${JSON.stringify(topkFraction)})`);
  }
  const tiersIn = v.tiers ?? {};
  if (!isObject(tiersIn)) throw new CompressionSpecError(`compression.tiers must be an object tier → format (got ${JSON.stringify(tiersIn)})`);
  const tiers: Record<string, CompressionFormat> = {};
  for (const name of Object.keys(tiersIn).sort()) {
    if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(name)) throw new CompressionSpecError(`compression.tiers key ${JSON.stringify(name)} is not a tier name (lowercase letters, digits, dashes)`);
    tiers[name] = compressionFormatOf(tiersIn[name], `compression.tiers.${name}`);
  }
  return { format, chunkSize: chunkSize as number, topkFraction, tiers };
}

/** Canonical JSON of a compression spec (fixed key order, sorted tiers, no whitespace). */
export function canonicalCompressionJson(c: CompressionSpec): string {
  const p = parseCompressionSpec(c);
  const tiers = "{" + Object.keys(p.tiers).map((k) => `${JSON.stringify(k)}:${JSON.stringify(p.tiers[k])}`).join(",") + "}";
  return `{"format":${JSON.stringify(p.format)},"chunkSize":${p.chunkSize},"topkFraction":${JSON.stringify(p.topkFraction)},"tiers":${tiers}}`;
}

/** The format a trainer of `tier` sends (the tier's override, else the task default; "none" without a spec). */
export function formatForTier(c: CompressionSpec | undefined, tier?: string): CompressionFormat {
  if (!c) return "none";
  return (tier !== undefined ? c.tiers[tier] : undefined) ?? c.format;
}

/** Every format a verifier of this task accepts. */
export function allowedFormats(c: CompressionSpec | undefined): Set<CompressionFormat> {
  if (!c) return new Set(["none"]);
  return new Set([c.format, ...Object.values(c.tiers)]);
}
