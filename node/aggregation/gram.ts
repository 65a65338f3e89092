// Gram matrix (all pairwise dot products) of float32 vectors, with a fixed float64 summation order,
// and the pairwise squared distances derived from it. Used by Krum / Multi-Krum.
//
// Summation order (part of the result's definition; every peer must use the same one, since Krum's
// selection decides which updates enter a hashed aggregate):
//   The dimension is cut into consecutive blocks of GRAM_BLOCK = 1024 coordinates (the last one shorter,
//   padded with one zero when its length is odd). Within a block, products x[k] * y[k] (exact in
//   float64: both factors are float32) are summed sequentially in float64 in two interleaved lanes,
//   `even` over k = 0, 2, 4, ... and `odd` over k = 1, 3, 5, ... (block-relative k), each starting
//   from +0. The block's partial is `even + odd`, and the dot product is `((0 + p_0) + p_1) + ...`
//   over the blocks in order. Nothing depends on thread count, tiling or CPU: IEEE-754 float64 add
//   and multiply are correctly rounded, JS and WebAssembly never contract them into FMAs.
//
// Two implementations produce that order bit for bit: a WebAssembly SIMD kernel (f64x2 lanes = the
// even/odd lanes above, 2 x 4 register tile) and a plain-JS reference (`gramReference`) used when
// WebAssembly SIMD is unavailable; a test checks they agree bit for bit.
import { commonLength } from "./vectors.ts";

/** Coordinates per block of the fixed summation order above. Changing it changes result bits. */
export const GRAM_BLOCK = 1024;

/**
 * Pairs whose Gram-form squared distance ||x||² + ||y||² - 2<x, y> is at most this fraction of
 * ||x||² + ||y||² are recomputed directly as sum (x_k - y_k)²: for (near-)identical vectors the
 * identity cancels catastrophically (its absolute error is about d * 2^-53 * (||x||² + ||y||²),
 * ~1e-11 relative for d = 1e5), so small distances would be mostly rounding noise or even negative.
 * Above the threshold the identity's relative error is below ~1e-5 in the worst case.
 */
export const GRAM_RECOMPUTE_RELATIVE = 1e-6;

export interface Gram {
  /** Row stride of `dots`. */
  stride: number;
  /** dots[i * stride + j] = <x_i, x_j> for i <= j (upper triangle incl. the diagonal; the rest is unspecified). */
  dots: Float64Array;
}

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD kernel, assembled here from opcodes (no toolchain, no binary blob to trust).
//
// Memory: a float32 staging area (rows of GRAM_BLOCK floats) that JS fills with one block of every
// vector, and a float64 area with the same rows widened (so the hot loop needs no conversions), then
// the np x np float64 dot-product accumulators.
//
// widen(src, dst, bytes): float64 copy of the float32 data at [src, src + bytes) to dst.
// rows(pa, pb, pbEnd, bytes, o0, o1): rows a0 = pa and a1 = pa + ROW (byte addresses in the float64
// area, ROW = GRAM_BLOCK * 8 bytes apart) against every group of four rows b0..b3 = pb + t * ROW for
// pb in [pb, pbEnd) step 4 * ROW. For each group: for k in [0, bytes) step 16 bytes (two doubles),
// accumulate a_u * b_v into f64x2 acc[u][v] (lane 0: even coordinates, lane 1: odd; a 2 x 4
// register tile), then add (lane0 + lane1) of acc[0][v] to the f64 at o0 + 8v and of acc[1][v] at
// o1 + 8v, and advance o0 and o1 by four doubles.

const leb = (x: number): number[] => {
  const out: number[] = [];
  do {
    let b = x & 0x7f;
    x >>>= 7;
    if (x !== 0) b |= 0x80;
    out.push(b);
  } while (x !== 0);
  return out;
};
/** Signed LEB128 (i32.const immediates). */
const sleb = (x: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = x & 0x7f;
    x >>= 7;
    if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const name = (s: string): number[] => [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

const I32 = 0x7f, V128 = 0x7b;
const get = (i: number) => [0x20, ...leb(i)];
const set = (i: number) => [0x21, ...leb(i)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...leb(op), ...imm];
const I32_ADD = 0x6a, I32_GE_U = 0x4f, I32_SHL = 0x74, I32_CONST = 0x41, F64_LOAD = 0x2b, F64_STORE = 0x39, F64_ADD = 0xa0;
const BLOCK = 0x02, LOOP = 0x03, VOID = 0x40, BR = 0x0c, BR_IF = 0x0d, END = 0x0b;
const V128_LOAD = 0x00, V128_STORE = 0x0b, V128_CONST = 0x0c, LOAD64_ZERO = 0x5d, PROMOTE_LOW = 0x5f, F64X2_ADD = 0xf0, F64X2_MUL = 0xf2, F64X2_EXTRACT = 0x21;

function kernelModule(): Uint8Array<ArrayBuffer> {
  const ROW = GRAM_BLOCK * 8;
  const code = (...parts: number[][]) => parts.flat();
  const add = (a: number, b: number[], dst: number) => [...get(a), ...b, I32_ADD, ...set(dst)];
  const whileLess = (i: number, end: number, body: number[]) =>
    [BLOCK, VOID, LOOP, VOID, ...get(i), ...get(end), I32_GE_U, BR_IF, 1, ...body, BR, 0, END, END];

  // widen(src 0, dst 1, bytes 2); locals: end 3
  const widen = code(
    add(0, get(2), 3),
    whileLess(0, 3, code(
      get(1), get(0), simd(LOAD64_ZERO, 3, 0), simd(PROMOTE_LOW), simd(V128_STORE, 4, 0),
      add(0, [I32_CONST, 8], 0), add(1, [I32_CONST, 16], 1),
    )),
    [END],
  );

  // rows(pa 0, pb 1, pbEnd 2, bytes 3, o0 4, o1 5); locals: a 6, b 7, aEnd 8, acc 9..16, x 17, y 18, t 19
  const [PA, PB, PB_END, BYTES, O0, O1, A, B, A_END, ACC, X, Y, T] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 18, 19];
  const load = (base: number, offset: number, dst: number) => [...get(base), ...simd(V128_LOAD, 4, ...leb(offset)), ...set(dst)];
  const mac = (acc: number, a: number) => [...get(acc), ...get(a), ...get(T), ...simd(F64X2_MUL), ...simd(F64X2_ADD), ...set(acc)];
  const inner: number[] = [...load(A, 0, X), ...load(A, ROW, Y)];
  for (let v = 0; v < 4; v++) inner.push(...load(B, v * ROW, T), ...mac(ACC + v, X), ...mac(ACC + 4 + v, Y));
  inner.push(...add(A, [I32_CONST, 16], A), ...add(B, [I32_CONST, 16], B));
  const group: number[] = [];
  for (let r = 0; r < 8; r++) group.push(...simd(V128_CONST, ...new Array(16).fill(0)), ...set(ACC + r));
  group.push(...get(PA), ...set(A), ...get(PB), ...set(B), ...add(PA, get(BYTES), A_END), ...whileLess(A, A_END, inner));
  for (let r = 0; r < 8; r++) {
    const o = r < 4 ? O0 : O1, off = leb(8 * (r % 4));
    // f64 at o + 8v  <-  (that f64) + (lane0 + lane1)
    group.push(...get(o), ...get(o), F64_LOAD, 3, ...off,
      ...get(ACC + r), ...simd(F64X2_EXTRACT, 0), ...get(ACC + r), ...simd(F64X2_EXTRACT, 1), F64_ADD, F64_ADD,
      F64_STORE, 3, ...off);
  }
  group.push(...add(O0, [I32_CONST, 32], O0), ...add(O1, [I32_CONST, 32], O1), ...add(PB, [I32_CONST, ...sleb(4 * ROW)], PB));
  const rows = [...whileLess(PB, PB_END, group), END];

  const body = (locals: number[][], instr: number[]) => {
    const b = [...vec(locals), ...instr];
    return [...leb(b.length), ...b];
  };
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(new Array(3).fill([I32])), 0], [0x60, ...vec(new Array(6).fill([I32])), 0]])),
    ...section(3, vec([[0], [1]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...name("widen"), 0x00, 0], [...name("rows"), 0x00, 1], [...name("mem"), 0x02, 0]])),
    ...section(10, vec([body([[1, I32]], widen), body([[3, I32], [11, V128]], rows)])),
  ]);
}

interface Kernel {
  widen: (src: number, dst: number, bytes: number) => void;
  rows: (pa: number, pb: number, pbEnd: number, bytes: number, o0: number, o1: number) => void;
  memory: WebAssembly.Memory;
}

let kernel: Kernel | null | undefined;

/** The SIMD kernel, or null when this runtime lacks WebAssembly SIMD (then the JS reference is used). */
function getKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const bytes = kernelModule();
    if (typeof WebAssembly === "undefined" || !WebAssembly.validate(bytes)) {
      kernel = null;
    } else {
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
      kernel = { widen: exports.widen as Kernel["widen"], rows: exports.rows as Kernel["rows"], memory: exports.mem as WebAssembly.Memory };
    }
  } catch {
    kernel = null;
  }
  return kernel;
}

/** True when the WebAssembly SIMD kernel is in use (false: the slower, bit-identical JS reference). */
export function gramUsesWasm(): boolean {
  return getKernel() !== null;
}

function gramWasm(updates: readonly Float32Array[], k: Kernel): Gram {
  const n = updates.length;
  const d = updates[0].length;
  const np = (n + 3) & ~3; // rows padded with zero vectors to a multiple of 4
  const B = GRAM_BLOCK;
  const wideAt = np * B * 4; // float64 rows after the float32 staging rows
  const row = B * 8;
  const dotsAt = wideAt + np * row; // np x np float64 accumulators
  const need = dotsAt + np * np * 8;
  const have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  const stage = new Float32Array(k.memory.buffer, 0, np * B);
  const acc = new Float64Array(k.memory.buffer, dotsAt, np * np);
  stage.fill(0);
  acc.fill(0);
  for (let start = 0; start < d; start += B) {
    const len = Math.min(B, d - start);
    const even = len + (len & 1);
    for (let i = 0; i < n; i++) {
      stage.set(updates[i].subarray(start, start + len), i * B);
      if (even !== len) stage[i * B + len] = 0;
    }
    k.widen(0, wideAt, np * B * 4);
    for (let i = 0; i < n; i += 2) {
      const j = i & ~3;
      k.rows(wideAt + i * row, wideAt + j * row, wideAt + np * row, even * 8, dotsAt + (i * np + j) * 8, dotsAt + ((i + 1) * np + j) * 8);
    }
  }
  return { stride: np, dots: acc.slice() };
}

/** Plain-JS Gram matrix in the same summation order as the SIMD kernel (bit-identical, slower). */
export function gramReference(updates: readonly Float32Array[]): Gram {
  const n = updates.length;
  const d = commonLength(updates, "gram");
  const dots = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const x = updates[i];
    for (let j = i; j < n; j++) {
      const y = updates[j];
      let dot = 0;
      for (let start = 0; start < d; start += GRAM_BLOCK) {
        const end = Math.min(d, start + GRAM_BLOCK);
        let e = 0, o = 0, k = start;
        for (; k + 1 < end; k += 2) {
          e += x[k] * y[k];
          o += x[k + 1] * y[k + 1];
        }
        if (k < end) {
          e += x[k] * y[k];
          o += 0 * 0; // the kernel's zero padding of an odd block: +0 + +0, kept for exactness
        }
        dot += e + o;
      }
      dots[i * n + j] = dot;
    }
  }
  return { stride: n, dots };
}

/** Gram matrix of `updates` in the fixed order above (SIMD kernel when available). */
export function gram(updates: readonly Float32Array[]): Gram {
  commonLength(updates, "gram");
  const k = getKernel();
  return k ? gramWasm(updates, k) : gramReference(updates);
}

/** Float64 sum of (a_k - b_k)² in index order: the direct form used for near-identical pairs. */
export function directSquaredDistance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) {
    const t = a[k] - b[k];
    s += t * t;
  }
  return s;
}

/**
 * n x n pairwise squared distances (row-major, zero diagonal) from the Gram matrix:
 * ||x_i||² + ||x_j||² - 2<x_i, x_j>, norms taken from the Gram diagonal. Pairs at or below
 * GRAM_RECOMPUTE_RELATIVE x (||x_i||² + ||x_j||²) are recomputed directly; results are clamped at 0.
 */
export function distancesFromGram(updates: readonly Float32Array[], g: Gram = gram(updates)): Float64Array {
  const n = updates.length;
  const { stride, dots } = g;
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const nii = dots[i * stride + i];
    for (let j = i + 1; j < n; j++) {
      const njj = dots[j * stride + j];
      let v = nii + njj - 2 * dots[i * stride + j];
      if (v <= GRAM_RECOMPUTE_RELATIVE * (nii + njj)) v = directSquaredDistance(updates[i], updates[j]);
      v = Math.max(0, v);
      dist[i * n + j] = v;
      dist[j * n + i] = v;
    }
  }
  return dist;
}
