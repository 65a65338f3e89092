/**
 * Canonical, versioned encodings of what private mode puts on IPFS:
 *
 * Masked update (binary; all integers little-endian):
 *   0  "PFSM"            4 bytes magic
 *   4  version           u8 (= 1)
 *   5  flags             u8 (= 0)
 *   6  ownerIndex        u16   registry index of the trainer that masked it
 *   8  round             u32
 *   12 task              20 bytes (contract address)
 *   32 count             u32   number of coordinates (= the model's parameter count)
 *   36 words             count × u32 (the masked fixed-point update, mod 2^32)
 *
 * Setup bundle and reveal bundle: UTF-8 JSON with a fixed key order, lowercase 0x-hex, entries
 * sorted by registry index. A decoder accepts only the exact bytes its encoder would write, so one
 * value has one encoding (and one CID), and anything else is refused with the reason.
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { SecAggFormatError } from "./errors.ts";
import type { RoundContext } from "./keys.ts";
import { CIPHERTEXT_BYTES, NONCE_BYTES, type SecretKind } from "./shares.ts";

export const MASKED_MAGIC = "PFSM";
export const MASKED_VERSION = 1;
export const MASKED_HEADER_BYTES = 36;
export const BUNDLE_VERSION = 1;

export interface MaskedUpdate {
  task: string;
  round: number;
  ownerIndex: number;
  words: Uint32Array;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function maskedUpdateBytes(count: number): number {
  return MASKED_HEADER_BYTES + 4 * count;
}

export function encodeMaskedUpdate(m: MaskedUpdate): Uint8Array {
  const out = new Uint8Array(maskedUpdateBytes(m.words.length));
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MASKED_MAGIC), 0);
  view.setUint8(4, MASKED_VERSION);
  view.setUint8(5, 0);
  view.setUint16(6, m.ownerIndex, true);
  view.setUint32(8, m.round, true);
  out.set(addressBytes(m.task, "masked update"), 12);
  view.setUint32(32, m.words.length, true);
  if (littleEndian) out.set(new Uint8Array(m.words.buffer, m.words.byteOffset, m.words.byteLength), MASKED_HEADER_BYTES);
  else for (let i = 0; i < m.words.length; i++) view.setUint32(MASKED_HEADER_BYTES + 4 * i, m.words[i], true);
  return out;
}

/**
 * Decode and check a masked update. `expect` (when given) must match: the task, the round, the
 * committing trainer's registry index and the model's parameter count.
 */
export function decodeMaskedUpdate(bytes: Uint8Array, expect?: Partial<Pick<MaskedUpdate, "task" | "round" | "ownerIndex">> & { count?: number }): MaskedUpdate {
  const bad = (reason: string) => new SecAggFormatError("masked update", reason);
  if (bytes.length < MASKED_HEADER_BYTES) throw bad(`${bytes.length} bytes is shorter than the ${MASKED_HEADER_BYTES}-byte header`);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MASKED_MAGIC) throw bad(`magic is not "${MASKED_MAGIC}" (a plain weights file in a private round?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(4);
  if (version !== MASKED_VERSION) throw bad(`version ${version} is not supported (expected ${MASKED_VERSION})`);
  if (view.getUint8(5) !== 0) throw bad(`flags byte is ${view.getUint8(5)}, must be 0`);
  const ownerIndex = view.getUint16(6, true);
  const round = view.getUint32(8, true);
  const task = "0x" + bytesToHex(bytes.subarray(12, 32));
  const count = view.getUint32(32, true);
  if (bytes.length !== maskedUpdateBytes(count)) throw bad(`length ${bytes.length} does not match ${count} coordinates (${maskedUpdateBytes(count)} bytes)`);
  if (expect?.count !== undefined && count !== expect.count) throw bad(`${count} coordinates, the model has ${expect.count}`);
  if (expect?.round !== undefined && round !== expect.round) throw bad(`it is for round ${round}, not ${expect.round}`);
  if (expect?.task !== undefined && task !== expect.task.toLowerCase()) throw bad(`it is for task ${task}, not ${expect.task.toLowerCase()}`);
  if (expect?.ownerIndex !== undefined && ownerIndex !== expect.ownerIndex) throw bad(`it names peer ${ownerIndex}, but peer ${expect.ownerIndex} committed it`);
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) words[i] = view.getUint32(MASKED_HEADER_BYTES + 4 * i, true);
  return { task, round, ownerIndex, words };
}

// ------------------------------------------------------------------ bundles

export interface SetupHolderEntry {
  index: number;
  address: string;
  nonce: string;
  ciphertext: string;
  selfCommit: string;
  ephemeralCommit: string;
}

export interface SetupBundle {
  version: number;
  task: string;
  round: number;
  owner: string;
  ownerIndex: number;
  population: number;
  threshold: number;
  ephemeralPk: string;
  holders: SetupHolderEntry[];
}

export interface RevealedShare {
  ownerIndex: number;
  secret: SecretKind;
  y: string;
}

export interface RevealBundle {
  version: number;
  task: string;
  round: number;
  revealer: string;
  revealerIndex: number;
  shares: RevealedShare[];
}

const HEX = /^0x[0-9a-f]*$/;

function addressBytes(addr: string, what: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{40}$/.test(addr)) throw new SecAggFormatError(what, `"${addr}" is not a 20-byte address`);
  return hexToBytes(addr.slice(2).toLowerCase());
}

export function hex(b: Uint8Array): string {
  return "0x" + bytesToHex(b);
}

export function unhex(s: string, bytes: number, what: string, field: string): Uint8Array {
  if (typeof s !== "string" || !HEX.test(s) || s.length !== 2 + 2 * bytes) throw new SecAggFormatError(what, `${field} must be 0x + ${bytes} lowercase hex bytes`);
  return hexToBytes(s.slice(2));
}

const isUint = (v: unknown, max: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;

function canonicalSetup(b: SetupBundle): SetupBundle {
  return {
    version: b.version, task: b.task.toLowerCase(), round: b.round, owner: b.owner.toLowerCase(), ownerIndex: b.ownerIndex,
    population: b.population, threshold: b.threshold, ephemeralPk: b.ephemeralPk,
    holders: b.holders.map((h) => ({ index: h.index, address: h.address.toLowerCase(), nonce: h.nonce, ciphertext: h.ciphertext, selfCommit: h.selfCommit, ephemeralCommit: h.ephemeralCommit })),
  };
}

export function encodeSetupBundle(b: SetupBundle): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(canonicalSetup({ ...b, holders: [...b.holders].sort((x, y) => x.index - y.index) })));
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new SecAggFormatError(what, `not UTF-8 JSON (${(err as Error).message})`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new SecAggFormatError(what, "not a JSON object");
  return v as Record<string, unknown>;
}

function checkCommon(v: Record<string, unknown>, what: string, ctx?: RoundContext): void {
  if (v.version !== BUNDLE_VERSION) throw new SecAggFormatError(what, `version ${String(v.version)} is not supported (expected ${BUNDLE_VERSION})`);
  addressBytes(String(v.task), what);
  if (!isUint(v.round, 0xffffffff)) throw new SecAggFormatError(what, "round must be a uint32");
  if (ctx && (String(v.task).toLowerCase() !== ctx.task.toLowerCase() || v.round !== ctx.round)) {
    throw new SecAggFormatError(what, `it is for task ${String(v.task)} round ${String(v.round)}, not ${ctx.task} round ${ctx.round}`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Parse and validate a setup bundle (optionally for a given task and round). */
export function decodeSetupBundle(bytes: Uint8Array, ctx?: RoundContext): SetupBundle {
  const what = "setup bundle";
  const v = parseJson(bytes, what);
  checkCommon(v, what, ctx);
  addressBytes(String(v.owner), what);
  if (!isUint(v.ownerIndex, 0xffff) || !isUint(v.population, 0xffff) || !isUint(v.threshold, 0xffff)) throw new SecAggFormatError(what, "ownerIndex, population, threshold must be uint16");
  unhex(String(v.ephemeralPk), 32, what, "ephemeralPk");
  if (!Array.isArray(v.holders)) throw new SecAggFormatError(what, "holders must be an array");
  for (const h of v.holders as Record<string, unknown>[]) {
    if (!h || typeof h !== "object" || !isUint(h.index, 0xffff)) throw new SecAggFormatError(what, "holder index must be a uint16");
    addressBytes(String(h.address), what);
    unhex(String(h.nonce), NONCE_BYTES, what, "nonce");
    unhex(String(h.ciphertext), CIPHERTEXT_BYTES, what, "ciphertext");
    unhex(String(h.selfCommit), 32, what, "selfCommit");
    unhex(String(h.ephemeralCommit), 32, what, "ephemeralCommit");
  }
  const b = v as unknown as SetupBundle;
  if (!sameBytes(encodeSetupBundle(b), bytes)) throw new SecAggFormatError(what, "not in canonical form (key order, case, holder order or extra fields)");
  return canonicalSetup(b);
}

export function encodeRevealBundle(b: RevealBundle): Uint8Array {
  const shares = [...b.shares].sort((x, y) => x.ownerIndex - y.ownerIndex).map((s) => ({ ownerIndex: s.ownerIndex, secret: s.secret, y: s.y }));
  return new TextEncoder().encode(JSON.stringify({ version: b.version, task: b.task.toLowerCase(), round: b.round, revealer: b.revealer.toLowerCase(), revealerIndex: b.revealerIndex, shares }));
}

export function decodeRevealBundle(bytes: Uint8Array, ctx?: RoundContext): RevealBundle {
  const what = "reveal bundle";
  const v = parseJson(bytes, what);
  checkCommon(v, what, ctx);
  addressBytes(String(v.revealer), what);
  if (!isUint(v.revealerIndex, 0xffff)) throw new SecAggFormatError(what, "revealerIndex must be a uint16");
  if (!Array.isArray(v.shares)) throw new SecAggFormatError(what, "shares must be an array");
  const seen = new Set<number>();
  for (const s of v.shares as Record<string, unknown>[]) {
    if (!s || typeof s !== "object" || !isUint(s.ownerIndex, 0xffff)) throw new SecAggFormatError(what, "share ownerIndex must be a uint16");
    if (seen.has(s.ownerIndex)) throw new SecAggFormatError(what, `two shares for owner ${s.ownerIndex} (a holder reveals one secret per owner, never both)`);
    seen.add(s.ownerIndex);
    if (s.secret !== "self" && s.secret !== "ephemeral") throw new SecAggFormatError(what, `secret must be "self" or "ephemeral", got ${String(s.secret)}`);
    unhex(String(s.y), 32, what, "y");
  }
  const b = v as unknown as RevealBundle;
  if (!sameBytes(encodeRevealBundle(b), bytes)) throw new SecAggFormatError(what, "not in canonical form (key order, case, share order or extra fields)");
  return b;
}
