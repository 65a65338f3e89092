import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DatasetIndexError, DatasetNotFoundError, loadDataset, loadLabels, selectSamples } from "../../node/ml/datasets.ts";
import { IdxFileNotFoundError, IdxFormatError, IdxShapeError, readIdx } from "../../node/ml/idx.ts";

/** Builds IDX bytes: 00 00 <type> <ndims>, big-endian u32 dims, data. */
function idx(dims: number[], data: Uint8Array, type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

describe("ml/idx + datasets", function () {
  this.timeout(30000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "peerfl-idx-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it("reads plain and gzip IDX files to the same dims and bytes", () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 7);
    const plain = readIdx(write("a.idx", idx([2, 3, 4], data)));
    const gz = readIdx(write("a.idx.gz", gzipSync(idx([2, 3, 4], data))), [2, null, 4]);
    expect(plain.dims).to.deep.equal([2, 3, 4]);
    expect(gz.dims).to.deep.equal([2, 3, 4]);
    expect([...plain.data]).to.deep.equal([...data]);
    expect([...gz.data]).to.deep.equal([...data]);
  });

  it("names the problem in corrupt files", () => {
    expect(() => readIdx(join(dir, "missing.idx"))).to.throw(IdxFileNotFoundError, /missing\.idx/);
    const badMagic = idx([2], new Uint8Array(2));
    badMagic[0] = 0x12;
    expect(() => readIdx(write("magic.idx", badMagic))).to.throw(IdxFormatError, /bad magic 12 00 08 01/);
    expect(() => readIdx(write("type.idx", idx([1], new Uint8Array(4), 0x0d)))).to.throw(IdxFormatError, /unsupported IDX element type float/);
    expect(() => readIdx(write("short.idx", idx([10, 28, 28], new Uint8Array(100))))).to.throw(IdxFormatError, /truncated data: dims \[10,28,28\] need 7840 bytes, found 100/);
    expect(() => readIdx(write("long.idx", idx([3], new Uint8Array(5))))).to.throw(IdxFormatError, /2 trailing bytes/);
    expect(() => readIdx(write("hdr.idx", Buffer.from([0, 0, 8, 3, 0, 0])))).to.throw(IdxFormatError, /truncated header: 3 dimensions need 16 bytes/);
    const gz = gzipSync(idx([4], new Uint8Array(4)));
    expect(() => readIdx(write("bad.gz", gz.subarray(0, gz.length - 6)))).to.throw(IdxFormatError, /corrupt gzip/);
    expect(() => readIdx(write("dims.idx", idx([2, 3], new Uint8Array(6))), [null, 28, 28])).to.throw(IdxShapeError, /expected 3 dimensions, file has 2/);
    expect(() => readIdx(write("dim.idx", idx([2, 3], new Uint8Array(6))), [null, 4])).to.throw(IdxShapeError, /dimension 1 is 3, expected 4/);
  });

  it("loads an IDX directory and rejects image/label count mismatches and bad labels", () => {
    const sub = mkdtempSync(join(dir, "ds-"));
    const pixels = Uint8Array.from({ length: 3 * 784 }, (_, i) => i % 256);
    writeFileSync(join(sub, "t10k-images-idx3-ubyte.gz"), gzipSync(idx([3, 28, 28], pixels)));
    writeFileSync(join(sub, "t10k-labels-idx1-ubyte"), idx([3], Uint8Array.from([4, 0, 9])));
    const ds = loadDataset(sub, "test");
    expect(ds.count).to.equal(3);
    expect(ds.imageShape).to.deep.equal([28, 28, 1]);
    expect([...ds.labels]).to.deep.equal([4, 0, 9]);
    expect(ds.images[255]).to.equal(1);
    expect(ds.images[1]).to.be.closeTo(1 / 255, 1e-7);
    writeFileSync(join(sub, "t10k-labels-idx1-ubyte"), idx([2], Uint8Array.from([4, 0])));
    expect(() => loadDataset(sub, "test")).to.throw(IdxShapeError, /2 labels but .* holds 3 images/);
    writeFileSync(join(sub, "t10k-labels-idx1-ubyte"), idx([3], Uint8Array.from([4, 10, 9])));
    expect(() => loadDataset(sub, "test")).to.throw(IdxShapeError, /label 10 at index 1/);
    expect(() => loadDataset(sub, "train")).to.throw(IdxFileNotFoundError, /train-images-idx3-ubyte\[\.gz\]/);
    expect(() => loadDataset(join(dir, "nowhere"), "test")).to.throw(DatasetNotFoundError, /nowhere/);
  });

  it("points at apt-get when Fashion-MNIST is missing", () => {
    const saved = process.env.PEERFL_FASHION_MNIST_DIR;
    process.env.PEERFL_FASHION_MNIST_DIR = join(dir, "no-fashion");
    try {
      expect(() => loadDataset("fashion-mnist", "test")).to.throw(DatasetNotFoundError, /apt-get install dataset-fashion-mnist/);
    } finally {
      if (saved === undefined) delete process.env.PEERFL_FASHION_MNIST_DIR;
      else process.env.PEERFL_FASHION_MNIST_DIR = saved;
    }
  });

  it("loads real MNIST (60k/10k) with all ten classes", () => {
    const test = loadDataset("mnist", "test");
    expect(test.count).to.equal(10000);
    expect(test.images.length).to.equal(10000 * 784);
    const counts = new Array(10).fill(0);
    for (const y of test.labels) counts[y]++;
    expect(Math.min(...counts)).to.be.greaterThan(800);
    let max = 0;
    for (const v of test.images) if (v > max) max = v;
    expect(max).to.equal(1);
    expect(loadLabels("mnist", "train").length).to.equal(60000);
  });

  it("loads real Fashion-MNIST from the .gz files", () => {
    const test = loadDataset("fashion-mnist", "test");
    expect(test.count).to.equal(10000);
    expect(new Set(test.labels).size).to.equal(10);
  });

  it("materializes only selected samples, identical to selecting from the full set", () => {
    const indices = [9999, 0, 4242, 17];
    const full = loadDataset("mnist", "test");
    const part = loadDataset("mnist", "test", indices);
    const picked = selectSamples(full, indices);
    expect(part.count).to.equal(4);
    expect([...part.labels]).to.deep.equal(indices.map((i) => full.labels[i]));
    expect(Buffer.from(part.images.buffer).equals(Buffer.from(picked.images.buffer))).to.equal(true);
    expect(Buffer.from(part.images.subarray(784, 1568).buffer.slice(784 * 4, 1568 * 4)).equals(Buffer.from(full.images.subarray(0, 784).slice().buffer))).to.equal(true);
    expect(() => selectSamples(full, [10000])).to.throw(DatasetIndexError, /sample index 10000 \(position 0\) is outside 0..9999/);
    expect(() => loadDataset("mnist", "test", [-1])).to.throw(DatasetIndexError, /-1/);
  });
});
