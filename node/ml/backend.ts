/**
 * Chooses the TensorFlow.js backend once per process: tfjs-node (native, if it loads), else
 * wasm (XNNPACK, SIMD), else the pure-JS cpu backend. Also fills the one gradient kernel the
 * wasm backend lacks (Conv2DBackpropFilter) so CNNs train on wasm.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

export type BackendName = "tensorflow" | "wasm" | "cpu";
export type BackendPreference = "auto" | BackendName;

/** The requested backend cannot be used in this process. */
export class BackendUnavailableError extends Error {
  constructor(readonly backend: BackendName, reason: string) {
    super(`TensorFlow.js backend "${backend}" is unavailable: ${reason}`);
    this.name = "BackendUnavailableError";
  }
}

const available = new Map<BackendName, Promise<boolean>>();
const logged = new Set<BackendName>();
let wasmPathsSet = false;

async function tryTensorflow(): Promise<boolean> {
  try {
    // tfjs-node is an optionalDependency that cannot be installed on every machine; the
    // variable specifier keeps TypeScript from requiring its types.
    const specifier = "@tensorflow/tfjs-node";
    await import(specifier);
    return await tf.setBackend("tensorflow");
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    if (!wasmPathsSet) {
      const require = createRequire(import.meta.url);
      const dist = join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + "/";
      setWasmPaths(dist);
      wasmPathsSet = true;
    }
    const ok = await tf.setBackend("wasm");
    if (ok) registerWasmConv2DBackpropFilter();
    return ok;
  } catch {
    return false;
  }
}

async function tryCpu(): Promise<boolean> {
  return tf.setBackend("cpu");
}

const attempts: Record<BackendName, () => Promise<boolean>> = { tensorflow: tryTensorflow, wasm: tryWasm, cpu: tryCpu };

async function use(name: BackendName): Promise<boolean> {
  let ready = available.get(name);
  if (!ready) {
    ready = attempts[name]();
    available.set(name, ready);
  }
  if (!(await ready)) return false;
  if (tf.getBackend() !== name) await tf.setBackend(name);
  await tf.ready();
  if (!logged.has(name)) {
    logged.add(name);
    console.error(`[peerfl/ml] TensorFlow.js backend: ${name}`);
  }
  return true;
}

/**
 * Makes `preference` (or the best available backend for "auto") the active backend and returns
 * its name. Idempotent: repeated calls reuse the first initialisation and log only once per backend.
 */
export async function initBackend(preference: BackendPreference = "auto"): Promise<BackendName> {
  if (preference !== "auto") {
    if (await use(preference)) return preference;
    throw new BackendUnavailableError(preference, preference === "tensorflow" ? "@tensorflow/tfjs-node is not installed or failed to load" : "setBackend failed");
  }
  for (const name of ["tensorflow", "wasm", "cpu"] as const) {
    if (await use(name)) return name;
  }
  throw new BackendUnavailableError("cpu", "no TensorFlow.js backend could be initialised");
}

// The kernel-level API is loosely typed in tfjs; these are the parts used here.
type TensorInfo = { dataId: object; shape: number[]; dtype: string };
type KernelBackendLike = { disposeData(dataId: object): boolean };
type KernelArgs = { inputs: Record<string, TensorInfo>; backend: KernelBackendLike; attrs: object };

let filterGradRegistered = false;

/**
 * Conv2DBackpropFilter for wasm, built from kernels wasm has. For stride s and dilation 1,
 *   dW[i,j,c,o] = Σ_{n,y,x} X[n, y·s + i − padTop, x·s + j − padLeft, c] · dY[n,y,x,o],
 * which is a stride-1 convolution of X transposed to [C, H, W, N] with dY transposed to
 * [OH, OW, N, O] used as a filter dilated by s; the result [C, FH, FW, O] is transposed back.
 */
export function registerWasmConv2DBackpropFilter(): void {
  if (filterGradRegistered || tf.getKernel("Conv2DBackpropFilter", "wasm")) {
    filterGradRegistered = true;
    return;
  }
  const kernel = (name: string) => {
    const k = tf.getKernel(name, "wasm");
    if (!k) throw new BackendUnavailableError("wasm", `kernel ${name} missing, cannot build Conv2DBackpropFilter`);
    return k.kernelFunc as unknown as (args: KernelArgs) => TensorInfo;
  };
  const conv2d = kernel("Conv2D");
  const transpose = kernel("Transpose");
  const slice = kernel("Slice");

  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args as unknown as KernelArgs;
      const x = inputs.x;
      const dy = inputs.dy;
      const a = attrs as unknown as {
        strides: number | [number, number];
        pad: "valid" | "same" | number | [[number, number], [number, number], [number, number], [number, number]];
        dataFormat: "NHWC" | "NCHW";
        dimRoundingMode?: "floor" | "round" | "ceil";
        filterShape: [number, number, number, number];
      };
      if (a.dataFormat === "NCHW") throw new Error("wasm Conv2DBackpropFilter supports only NHWC");
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, "channelsLast",
      );
      const [, inH, inW] = x.shape;
      const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
      const top = info.padInfo.top;
      const left = info.padInfo.left;
      // Rows/cols of padded input the dilated filter actually covers: fh + (oh−1)·sh.
      let bottom = fh + (oh - 1) * sh - inH - top;
      let right = fw + (ow - 1) * sw - inW - left;
      const temps: TensorInfo[] = [];
      const call = (f: (args: KernelArgs) => TensorInfo, ins: Record<string, TensorInfo>, at: object): TensorInfo => {
        const out = f({ inputs: ins, backend, attrs: at });
        temps.push(out);
        return out;
      };
      try {
        let xT = call(transpose, { x }, { perm: [3, 1, 2, 0] }); // [C, H, W, N]
        if (bottom < 0 || right < 0) {
          // Trailing rows/cols no output position reads: crop instead of negative padding.
          const keepH = inH + Math.min(bottom, 0);
          const keepW = inW + Math.min(right, 0);
          xT = call(slice, { x: xT }, { begin: [0, 0, 0, 0], size: [xT.shape[0], keepH, keepW, xT.shape[3]] });
          bottom = Math.max(bottom, 0);
          right = Math.max(right, 0);
        }
        const dyT = call(transpose, { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, O]
        const grad = call(conv2d, { x: xT, filter: dyT }, {
          strides: [1, 1],
          dilations: [sh, sw],
          pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
          dataFormat: "NHWC",
        }); // [C, FH, FW, O]
        const result = transpose({ inputs: { x: grad }, backend, attrs: { perm: [1, 2, 0, 3] } }); // [FH, FW, C, O]
        return result as unknown as tf.TensorInfo;
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    },
  });
  filterGradRegistered = true;
}
