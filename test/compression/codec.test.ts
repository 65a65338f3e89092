import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compressUpdate, decompressUpdate, isCompressedUpdate, topk, type CompressedFormat, type UpdateBase } from "../../node/compression/codec.ts";
import { residualFile } from "../../node/compression/residual-store.ts";
import { roundingSeed, uniforms } from "../../node/compression/rounding.ts";
import { allowedFormats, CompressionSpecError, formatForTier, parseCompressionSpec } from "../../node/compression/spec.ts";
import { packUpdate, type TrainerCompressionState } from "../../node/compression/trainer-side.ts";
import { decodeModelSpec, encodeFlatWeights, encodeModelSpec, ModelSpecFormatError } from "../../node/ml/codec.ts";
import { mulberry32 } from "../../node/ml/random.ts";
import type { ModelSpec } from "../../node/ml/types.ts";
import { decodeUpdate, updateCid } from "../../node/protocol/model-bytes.ts";

const SPEC: ModelSpec = { model: "mlp", inputShape: [4], numClasses: 2, tensors: [{ name: "w", shape: [1000, 2] }, { name: "b", shape: [1] }] };
const N = 2001;
const TASK = "0x1111111111111111111111111111111111111111";
const TRAINER = "0x2222222222222222222222222222222222222222";
const vec = (seed: number, scale: number, base?: Float32Array) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: N }, (_, i) => (base ? base[i] : 0) + (r() - 0.5) * scale);
};
const base: UpdateBase = { cid: "bafkreibasebasebasebasebasebasebasebasebasebasebasebasebase", weights: vec(1, 1) };
const opts = (format: CompressedFormat, seedRound = 3) => ({
  format, base, spec: { ...SPEC, compression: parseCompressionSpec({ format }) }, seed: roundingSeed(TASK, seedRound, TRAINER), chunkSize: 256, topkFraction: 0.1,
});
const specWith = (format: CompressedFormat | "none", tiers: Record<string, string> = {}): ModelSpec => ({ ...SPEC, compression: parseCompressionSpec({ format, tiers }) });

describe("compression: spec in the model spec JSON", () => {
  it("round-trips through the canonical spec bytes; absent compression keeps the old bytes", () => {
    const plain = encodeModelSpec(SPEC);
    expect(new TextDecoder().decode(plain)).to.not.include("compression");
    const withC = { ...SPEC, compression: parseCompressionSpec({ format: "q8", tiers: { "iot-board": "q4" } }) };
    const bytes = encodeModelSpec(withC);
    expect(decodeModelSpec(bytes)).to.deep.equal(withC);
    expect(() => decodeModelSpec(new TextEncoder().encode(new TextDecoder().decode(bytes).replace('"q8"', '"q9"')))).to.throw(ModelSpecFormatError, /q9/);
  });
  it("tier overrides choose the trainer's format; verifiers accept the default and every override", () => {
    const c = parseCompressionSpec({ format: "q8", tiers: { "iot-board": "q4", "edge-box": "none" } });
    expect(formatForTier(c, "iot-board")).to.equal("q4");
    expect(formatForTier(c, "mid-phone")).to.equal("q8");
    expect(formatForTier(undefined, "iot-board")).to.equal("none");
    expect([...allowedFormats(c)].sort()).to.deep.equal(["none", "q4", "q8"]);
    expect(() => parseCompressionSpec({ format: "q8", level: 3 })).to.throw(CompressionSpecError, /unknown key/);
    expect(() => parseCompressionSpec({ format: "topk", topkFraction: 0.9 })).to.throw(CompressionSpecError, /topkFraction/);
  });
});

describe("compression: stochastic quantization (q8, q4)", () => {
  const weights = vec(2, 0.02, base.weights);
  it("same weights, base and seed give identical bytes and CID; another round's seed other bytes", async () => {
    for (const f of ["q8", "q4", "topk"] as const) {
      const a = compressUpdate(weights, opts(f));
      const b = compressUpdate(Float32Array.from(weights), opts(f));
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), f).to.equal(true);
      expect((await updateCid(a.bytes)).toString()).to.equal((await updateCid(b.bytes)).toString());
      expect(isCompressedUpdate(a.bytes)).to.equal(true);
    }
    expect(Buffer.from(compressUpdate(weights, opts("q8", 4)).bytes).equals(Buffer.from(compressUpdate(weights, opts("q8")).bytes))).to.equal(false);
  });
  it("q8 is at least 3.5x and q4 at least 7x smaller than float32 at the MNIST MLP's size", () => {
    const mlp: ModelSpec = { model: "mlp", inputShape: [784], numClasses: 10, tensors: [{ name: "dense1/kernel", shape: [784, 128] }, { name: "dense1/bias", shape: [128] }, { name: "dense2/kernel", shape: [128, 10] }, { name: "dense2/bias", shape: [10] }] };
    const n = 101_770;
    const r = mulberry32(9);
    const b: UpdateBase = { cid: base.cid, weights: Float32Array.from({ length: n }, () => r() - 0.5) };
    const w = Float32Array.from(b.weights, (x) => x + (r() - 0.5) * 0.01);
    const f32 = encodeFlatWeights(w, mlp).length;
    const size = (format: CompressedFormat) => compressUpdate(w, { format, base: b, spec: mlp, seed: roundingSeed(TASK, 1, TRAINER), chunkSize: 256, topkFraction: 0.1 }).bytes.length;
    expect(f32 / size("q8")).to.be.greaterThan(3.5);
    expect(f32 / size("q4")).to.be.greaterThan(7);
    expect(f32 / size("topk")).to.be.greaterThan(4.5);
  });
  it("each decoded coordinate is within one quantization step of the true delta", () => {
    for (const [f, s] of [["q8", 127], ["q4", 7]] as const) {
      const out = compressUpdate(weights, opts(f)).decoded;
      for (let c = 0; c < N; c += 256) {
        let scale = 0;
        for (let i = c; i < Math.min(N, c + 256); i++) scale = Math.max(scale, Math.abs(weights[i] - base.weights[i]));
        for (let i = c; i < Math.min(N, c + 256); i++) expect(Math.abs(out[i] - weights[i])).to.be.at.most(scale / s + 1e-6);
      }
    }
  });
  it("stochastic rounding is unbiased: the mean over many seeds approaches the true delta", () => {
    const w = vec(5, 0.02, base.weights);
    const trials = 300;
    const sum = new Float64Array(N);
    for (let t = 0; t < trials; t++) {
      const out = compressUpdate(w, { ...opts("q4"), seed: roundingSeed(TASK, t, TRAINER) }).decoded;
      for (let i = 0; i < N; i++) sum[i] += out[i] - base.weights[i];
    }
    let meanErr = 0, maxAbs = 0;
    for (let i = 0; i < N; i++) { meanErr += sum[i] / trials - (w[i] - base.weights[i]); maxAbs = Math.max(maxAbs, Math.abs(w[i] - base.weights[i])); }
    // bias of the average error over all coordinates: far below one q4 step (maxAbs / 7)
    expect(Math.abs(meanErr / N)).to.be.below(maxAbs / 7 / 50);
  });
  it("the uniforms are ChaCha20 draws in [0, 1) with mean 1/2", () => {
    const u = uniforms(roundingSeed(TASK, 1, TRAINER), 20000);
    expect(Math.min(...u)).to.be.at.least(0);
    expect(Math.max(...u)).to.be.below(1);
    expect(u.reduce((a, b) => a + b, 0) / u.length).to.be.closeTo(0.5, 0.01);
  });
});

describe("compression: decoding refuses bad bytes", () => {
  const weights = vec(2, 0.02, base.weights);
  const good = compressUpdate(weights, opts("q8")).bytes;
  const spec = specWith("q8");
  it("decodes to the same float32 update through decodeUpdate with the round's base", () => {
    expect(Buffer.from(decodeUpdate(good, spec, base).buffer).equals(Buffer.from(compressUpdate(weights, opts("q8")).decoded.buffer))).to.equal(true);
  });
  it("refuses truncated, trailing, non-canonical, non-finite bytes, a wrong base and a format the task does not allow", () => {
    expect(() => decodeUpdate(good.subarray(0, good.length - 1), spec, base)).to.throw(/truncated/);
    expect(() => decodeUpdate(new Uint8Array([...good, 0]), spec, base)).to.throw(/trailing/);
    const headerEnd = 10 + new DataView(good.buffer).getUint32(6, true);
    const nanScale = Uint8Array.from(good); new DataView(nanScale.buffer).setFloat32(headerEnd, NaN, true);
    expect(() => decodeUpdate(nanScale, spec, base)).to.throw(/non-finite/);
    const badLevel = Uint8Array.from(good); badLevel[headerEnd + 4 * Math.ceil(N / 256)] = 0x80; // −128
    expect(() => decodeUpdate(badLevel, spec, base)).to.throw(/outside/);
    const shrunk = Uint8Array.from(good); // halve every level: scale and levels no longer canonical
    for (let i = headerEnd + 4 * Math.ceil(N / 256); i < shrunk.length; i++) shrunk[i] = ((shrunk[i] << 24 >> 24) >> 1) & 0xff;
    expect(() => decodeUpdate(shrunk, spec, base)).to.throw(/not canonical/);
    expect(() => decodeUpdate(good, spec, { ...base, cid: "bafkreiother" })).to.throw(/not against this round's global/);
    expect(() => decodeUpdate(good, specWith("q4"), base)).to.throw(/not one the task allows/);
    expect(() => decodeUpdate(encodeFlatWeights(weights, SPEC), spec, base)).to.throw(/format none/);
    expect(() => decodeUpdate(good, spec)).to.throw(/needs the round's global model/);
    const huge = Uint8Array.from(good); new DataView(huge.buffer).setFloat32(headerEnd, 3e38, true);
    expect(() => decompressUpdate(huge, SPEC, { ...base, weights: new Float32Array(N).fill(3e38) })).to.throw(/non-finite/);
  });
  it("a plain float32 update still decodes where the task allows none", () => {
    expect(decodeUpdate(encodeFlatWeights(weights, SPEC), SPEC, base)).to.deep.equal(weights);
  });
});

describe("compression: top-k with error feedback", () => {
  it("sends k coordinates and keeps exactly what it did not send", () => {
    const d = vec(7, 1);
    const r = topk(d, 0.1, null);
    expect(r.indices.length).to.equal(Math.ceil(0.1 * N));
    const sent = new Float32Array(N);
    r.indices.forEach((i, j) => { sent[i] = r.values[j]; });
    for (let i = 0; i < N; i++) expect(sent[i] + r.residual[i]).to.be.closeTo(d[i], 1e-6);
    const minSent = Math.min(...r.indices.map((i) => Math.abs(d[i])));
    expect(Math.max(...Array.from(r.residual, Math.abs))).to.be.at.most(minSent);
  });
  it("the residual is carried into the next round and persisted across a restart", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "peerfl-residual-"));
    try {
      const spec = specWith("topk");
      const w1 = vec(8, 0.02, base.weights);
      const state: TrainerCompressionState = { dataDir: dir };
      const p1 = packUpdate({ spec, task: TASK, round: 1, trainer: TRAINER, base, weights: w1, state });
      p1.commitResidual();
      const kept = state.residual!;
      expect(kept.some((x) => x !== 0)).to.equal(true);
      // a restarted agent (new state, same data dir) loads the same residual from disk
      const restarted: TrainerCompressionState = { dataDir: dir };
      const p2 = packUpdate({ spec, task: TASK, round: 2, trainer: TRAINER, base, weights: base.weights, state: restarted });
      expect(Array.from(restarted.residual!)).to.deep.equal(Array.from(kept));
      // with a zero delta, what round 2 sends is exactly the largest part of the residual
      const expected = topk(new Float32Array(N), 0.1, kept);
      const decodedDelta = Array.from(p2.decoded, (x, i) => x - base.weights[i]);
      expected.indices.forEach((i, j) => expect(decodedDelta[i]).to.be.closeTo(expected.values[j], 1e-6));
      // a corrupt residual file is dropped, not fatal
      writeFileSync(residualFile(dir, TASK), "garbage");
      const warnings: string[] = [];
      packUpdate({ spec, task: TASK, round: 3, trainer: TRAINER, base, weights: w1, state: { dataDir: dir }, warn: (e) => warnings.push(e) });
      expect(warnings).to.deep.equal(["residual-dropped"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
