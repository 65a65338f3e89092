import { expect } from "chai";
import {
  decodeModelSpec,
  decodeWeights,
  encodeModelSpec,
  encodeWeights,
  flattenWeights,
  ModelSpecFormatError,
  NonFiniteWeightsError,
  unflattenWeights,
  WeightsFormatError,
  WeightsSpecMismatchError,
  weightsL2Norm,
} from "../../node/ml/codec.ts";
import { initialWeights, modelSpecFor } from "../../node/ml/models.ts";
import type { ModelWeights } from "../../node/ml/types.ts";

const spec = modelSpecFor("mlp");
const weights = initialWeights(spec, 7);

function withBytes(bytes: Uint8Array, edit: (b: Uint8Array, view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  edit(copy, new DataView(copy.buffer));
  return copy;
}

describe("ml/codec", () => {
  it("encodes the same weights to identical bytes, twice and after decode → encode", () => {
    const a = encodeWeights(weights);
    const b = encodeWeights(initialWeights(spec, 7));
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(true);
    const again = encodeWeights(decodeWeights(a, spec));
    expect(Buffer.from(again).equals(Buffer.from(a))).to.equal(true);
    expect(Buffer.from(encodeWeights(initialWeights(spec, 8))).equals(Buffer.from(a))).to.equal(false);
  });

  it("starts with PFLW, version 1, and little-endian float32 data at a 4-byte-aligned offset", () => {
    const bytes = encodeWeights(weights);
    expect(Buffer.from(bytes.subarray(0, 4)).toString("latin1")).to.equal("PFLW");
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getUint16(4, true)).to.equal(1);
    const dataStart = 10 + view.getUint32(6, true);
    expect(dataStart % 4).to.equal(0);
    expect(view.getFloat32(dataStart, true)).to.equal(weights.tensors[0].values[0]);
    expect(bytes.length - dataStart).to.equal(flattenWeights(weights).length * 4);
  });

  it("round-trips values exactly, including -0 and subnormals", () => {
    const w: ModelWeights = { tensors: [{ name: "a", shape: [2, 2], values: new Float32Array([-0, 1e-45, -3.5, 3.4e38]) }, { name: "b", shape: [0], values: new Float32Array(0) }] };
    const back = decodeWeights(encodeWeights(w));
    expect(Object.is(back.tensors[0].values[0], -0)).to.equal(true);
    expect([...back.tensors[0].values]).to.deep.equal([...w.tensors[0].values]);
    expect(back.tensors[1].shape).to.deep.equal([0]);
  });

  it("rejects bad magic, version, truncation, trailing bytes and a corrupt header", () => {
    const good = encodeWeights(weights);
    expect(() => decodeWeights(withBytes(good, (b) => (b[0] = 0x58)))).to.throw(WeightsFormatError, /bad magic "XFLW"/);
    expect(() => decodeWeights(withBytes(good, (_b, v) => v.setUint16(4, 2, true)))).to.throw(WeightsFormatError, /unsupported version 2/);
    expect(() => decodeWeights(good.subarray(0, 6))).to.throw(WeightsFormatError, /truncated/);
    expect(() => decodeWeights(good.subarray(0, good.length - 4))).to.throw(WeightsFormatError, /truncated: header declares \d+ data bytes, found \d+/);
    expect(() => decodeWeights(withBytes(good, (_b, v) => v.setUint32(6, 1 << 30, true)))).to.throw(WeightsFormatError, /header length/);
    const trailing = new Uint8Array(good.length + 3);
    trailing.set(good);
    expect(() => decodeWeights(trailing)).to.throw(WeightsFormatError, /3 trailing bytes/);
    const brokenJson = withBytes(good, (b) => (b[10] = 0x5b)); // header's "{" → "["
    expect(() => decodeWeights(brokenJson)).to.throw(WeightsFormatError, /header is not valid UTF-8 JSON/);
  });

  it("rejects a header whose JSON differs from the canonical form", () => {
    const w: ModelWeights = { tensors: [{ name: "t", shape: [1], values: new Float32Array([1]) }] };
    const good = encodeWeights(w);
    const view = new DataView(good.buffer);
    const headerLength = view.getUint32(6, true);
    const header = Buffer.from(good.subarray(10, 10 + headerLength)).toString("utf8");
    // Reordered keys, padded to the same length.
    const reordered = header.trimEnd().replace('{"dtype":"float32","tensors":', '{"tensors":').replace(/}$/, ',"dtype":"float32"}').padEnd(headerLength, " ");
    expect(reordered.length).to.equal(headerLength);
    const bad = good.slice();
    bad.set(Buffer.from(reordered, "utf8"), 10);
    expect(() => decodeWeights(bad)).to.throw(WeightsFormatError, /canonical/);
  });

  it("rejects weights that do not fit the expected spec, naming the tensor", () => {
    const bytes = encodeWeights(weights);
    expect(() => decodeWeights(bytes, modelSpecFor("cnn"))).to.throw(WeightsSpecMismatchError, /expected 8 tensors/);
    const renamed = { ...spec, tensors: spec.tensors.map((t, i) => (i === 2 ? { ...t, name: "out/kernel" } : t)) };
    expect(() => decodeWeights(bytes, renamed)).to.throw(WeightsSpecMismatchError, /expected name "out\/kernel", got "dense2\/kernel"/);
    expect(() => decodeWeights(bytes, modelSpecFor("mlp", [28, 28, 1], 11))).to.throw(WeightsSpecMismatchError, /"dense2\/kernel": expected shape \[128,11\], got \[128,10\]/);
  });

  it("rejects NaN and Infinity on decode and on encode, naming tensor and index", () => {
    const w: ModelWeights = { tensors: [{ name: "a", shape: [3], values: new Float32Array([1, 2, 3]) }] };
    const bytes = encodeWeights(w);
    const nan = withBytes(bytes, (b, v) => v.setFloat32(b.length - 4, NaN, true));
    expect(() => decodeWeights(nan)).to.throw(NonFiniteWeightsError, /tensor "a" has non-finite value NaN at flat index 2/);
    const inf = withBytes(bytes, (b, v) => v.setFloat32(b.length - 8, -Infinity, true));
    expect(() => decodeWeights(inf)).to.throw(NonFiniteWeightsError, /-Infinity at flat index 1/);
    expect(() => encodeWeights({ tensors: [{ name: "a", shape: [1], values: new Float32Array([Infinity]) }] })).to.throw(NonFiniteWeightsError);
  });

  it("rejects malformed weights on encode (duplicate names, value count ≠ shape)", () => {
    const t = { name: "x", shape: [2], values: new Float32Array(2) };
    expect(() => encodeWeights({ tensors: [t, t] })).to.throw(WeightsFormatError, /"x" appears twice/);
    expect(() => encodeWeights({ tensors: [{ ...t, shape: [3] }] })).to.throw(WeightsFormatError, /3 values\) but 2 values/);
  });

  it("flattens and unflattens in spec order; computes the L2 norm", () => {
    const flat = flattenWeights(weights);
    expect(flat.length).to.equal(784 * 128 + 128 + 128 * 10 + 10);
    const back = unflattenWeights(flat, spec);
    expect(back.tensors.map((t) => t.name)).to.deep.equal(spec.tensors.map((t) => t.name));
    expect(Buffer.from(encodeWeights(back)).equals(Buffer.from(encodeWeights(weights)))).to.equal(true);
    expect(() => unflattenWeights(flat.subarray(1), spec)).to.throw(WeightsSpecMismatchError, /101769 values, the model has 101770/);
    const v = { tensors: [{ name: "a", shape: [2], values: new Float32Array([3, 0]) }, { name: "b", shape: [1], values: new Float32Array([4]) }] };
    expect(weightsL2Norm(v)).to.equal(5);
    expect(weightsL2Norm(flattenWeights(v))).to.equal(5);
  });

  it("encodes model specs canonically and rejects non-canonical or invalid ones", () => {
    const bytes = encodeModelSpec(spec);
    expect(Buffer.from(bytes).toString()).to.match(/^\{"model":"mlp","inputShape":\[28,28,1\],"numClasses":10,"tensors":\[\{"name":"dense1\/kernel","shape":\[784,128\]\}/);
    expect(decodeModelSpec(bytes)).to.deep.equal(spec);
    expect(Buffer.from(encodeModelSpec(decodeModelSpec(bytes))).equals(Buffer.from(bytes))).to.equal(true);
    const pretty = new TextEncoder().encode(JSON.stringify(spec, null, 1));
    expect(() => decodeModelSpec(pretty)).to.throw(ModelSpecFormatError, /canonical/);
    expect(() => decodeModelSpec(new TextEncoder().encode('{"model":"rnn","inputShape":[1],"numClasses":2,"tensors":[]}'))).to.throw(ModelSpecFormatError, /unknown model "rnn"/);
    expect(() => decodeModelSpec(new Uint8Array([0xff, 0xfe]))).to.throw(ModelSpecFormatError, /not valid UTF-8 JSON/);
  });
});
