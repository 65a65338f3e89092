/**
 * Reader for the IDX format of LeCun's MNIST files (also used by Fashion-MNIST), plain or gzip.
 * Format: 2 zero bytes, a type byte (0x08 = unsigned byte), a dimension count, then one
 * big-endian u32 per dimension, then the data row-major. http://yann.lecun.com/exdb/mnist/
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { gunzipSync } from "node:zlib";

/** The IDX file does not exist. */
export class IdxFileNotFoundError extends Error {
  constructor(readonly path: string, hint?: string) {
    super(`IDX file not found: ${path}${hint ? ` (${hint})` : ""}`);
    this.name = "IdxFileNotFoundError";
  }
}

/** The file is not a well-formed IDX file (magic, type, length, gzip). */
export class IdxFormatError extends Error {
  constructor(readonly path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = "IdxFormatError";
  }
}

/** A well-formed IDX file whose dimensions or item count are not what the caller needs. */
export class IdxShapeError extends Error {
  constructor(readonly path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = "IdxShapeError";
  }
}

export interface IdxArray {
  /** Dimensions, outermost first, e.g. [60000, 28, 28]. */
  dims: number[];
  /** Row-major unsigned bytes. */
  data: Uint8Array;
}

const IDX_UBYTE = 0x08;
const IDX_TYPE_NAMES: Record<number, string> = { 0x08: "ubyte", 0x09: "byte", 0x0b: "short", 0x0c: "int", 0x0d: "float", 0x0e: "double" };

/** Reads the raw bytes of a file, gunzipping when it starts with the gzip magic 1f 8b. */
function readMaybeGzip(path: string): Uint8Array {
  if (!existsSync(path)) throw new IdxFileNotFoundError(path);
  const raw = readFileSync(path);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return new Uint8Array(gunzipSync(raw));
    } catch (e) {
      throw new IdxFormatError(path, `corrupt gzip data: ${(e as Error).message}`);
    }
  }
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Parses IDX bytes (already decompressed). `path` is used in error messages only. */
export function parseIdx(bytes: Uint8Array, path = "<bytes>"): IdxArray {
  if (bytes.length < 4) throw new IdxFormatError(path, `only ${bytes.length} bytes, an IDX header has at least 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new IdxFormatError(path, `bad magic ${magic}, IDX files start with 00 00 <type> <ndims>`);
  }
  const type = bytes[2];
  if (type !== IDX_UBYTE) {
    const name = IDX_TYPE_NAMES[type];
    throw new IdxFormatError(path, name ? `unsupported IDX element type ${name} (0x${type.toString(16)}), only ubyte is read` : `unknown IDX element type 0x${type.toString(16)}`);
  }
  const ndims = bytes[3];
  if (ndims === 0) throw new IdxFormatError(path, "IDX file declares 0 dimensions");
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) throw new IdxFormatError(path, `truncated header: ${ndims} dimensions need ${headerLength} bytes, file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLength;
  if (actual < expected) throw new IdxFormatError(path, `truncated data: dims ${JSON.stringify(dims)} need ${expected} bytes, found ${actual}`);
  if (actual > expected) throw new IdxFormatError(path, `${actual - expected} trailing bytes after the ${expected} data bytes of dims ${JSON.stringify(dims)}`);
  return { dims, data: bytes.subarray(headerLength) };
}

/** Reads an IDX file (plain or .gz). With `expectedDims`, each non-null entry must match. */
export function readIdx(path: string, expectedDims?: (number | null)[]): IdxArray {
  const arr = parseIdx(readMaybeGzip(path), path);
  if (expectedDims) {
    if (arr.dims.length !== expectedDims.length) {
      throw new IdxShapeError(path, `expected ${expectedDims.length} dimensions, file has ${arr.dims.length} (${JSON.stringify(arr.dims)})`);
    }
    expectedDims.forEach((d, i) => {
      if (d !== null && arr.dims[i] !== d) throw new IdxShapeError(path, `dimension ${i} is ${arr.dims[i]}, expected ${d} (dims ${JSON.stringify(arr.dims)})`);
    });
  }
  return arr;
}

/**
 * Reads only the given rows (outermost index) of a plain IDX file, in the given order, with one
 * positioned read per row: a peer's 1,000-sample shard costs 0.8 MB, not the 47 MB file. Returns
 * null for a gzip file (it must be inflated whole; the caller falls back to readIdx). Rows outside
 * the file throw IdxShapeError.
 */
export function readIdxRows(path: string, rows: readonly number[], expectedDims?: (number | null)[]): (IdxArray & { total: number }) | null {
  if (!existsSync(path)) throw new IdxFileNotFoundError(path);
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4);
    if (readSync(fd, head, 0, 4, 0) < 4) return null; // too short: readIdx says why
    if (head[0] === 0x1f && head[1] === 0x8b) return null;
    const ndims = head[3];
    if (head[0] !== 0 || head[1] !== 0 || head[2] !== IDX_UBYTE || ndims === 0) return null;
    const dimBytes = Buffer.alloc(4 * ndims);
    if (readSync(fd, dimBytes, 0, dimBytes.length, 4) < dimBytes.length) return null;
    const dims = Array.from({ length: ndims }, (_, i) => dimBytes.readUInt32BE(4 * i));
    const headerLength = 4 + 4 * ndims;
    const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
    if (fstatSync(fd).size !== headerLength + dims[0] * rowSize) return null; // malformed: readIdx says why
    if (expectedDims) {
      if (dims.length !== expectedDims.length) throw new IdxShapeError(path, `expected ${expectedDims.length} dimensions, file has ${dims.length} (${JSON.stringify(dims)})`);
      expectedDims.forEach((d, i) => {
        if (d !== null && dims[i] !== d) throw new IdxShapeError(path, `dimension ${i} is ${dims[i]}, expected ${d} (dims ${JSON.stringify(dims)})`);
      });
    }
    const data = new Uint8Array(rows.length * rowSize);
    rows.forEach((r, i) => {
      if (!Number.isInteger(r) || r < 0 || r >= dims[0]) throw new IdxShapeError(path, `row ${r} is outside 0..${dims[0] - 1}`);
      readSync(fd, data, i * rowSize, rowSize, headerLength + r * rowSize);
    });
    return { dims: [rows.length, ...dims.slice(1)], data, total: dims[0] };
  } finally {
    closeSync(fd);
  }
}
