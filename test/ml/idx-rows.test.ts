/**
 * A peer's shard is read row by row from a plain IDX file (not the whole 47 MB file): the rows must
 * be exactly those a full read gives, a .gz file must still work (inflated whole), and a row outside
 * the file must be refused with its reason.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadDataset } from "../../node/ml/datasets.ts";
import { IdxShapeError, readIdx, readIdxRows } from "../../node/ml/idx.ts";

function idx(dims: number[], fill: (i: number) => number): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  return Buffer.concat([header, Buffer.from(Uint8Array.from({ length: n }, (_, i) => fill(i)))]);
}

describe("IDX shard reads (only a peer's rows)", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "peerfl-idx-rows-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the same bytes as a full read, in the order asked", () => {
    const f = join(dir, "imgs");
    writeFileSync(f, idx([50, 4, 3], (i) => (i * 7) % 251));
    const full = readIdx(f, [null, 4, 3]);
    const rows = [49, 0, 17, 17, 3];
    const part = readIdxRows(f, rows, [null, 4, 3])!;
    expect(part.dims).to.deep.equal([5, 4, 3]);
    expect(part.total).to.equal(50);
    rows.forEach((r, i) => expect([...part.data.subarray(i * 12, (i + 1) * 12)]).to.deep.equal([...full.data.subarray(r * 12, (r + 1) * 12)]));
  });

  it("says null for a gzip file (the caller inflates it whole) and refuses rows outside the file", () => {
    const gz = join(dir, "imgs.gz");
    writeFileSync(gz, gzipSync(idx([5, 2, 2], (i) => i)));
    expect(readIdxRows(gz, [0])).to.equal(null);
    const f = join(dir, "small");
    writeFileSync(f, idx([5, 2, 2], (i) => i));
    expect(() => readIdxRows(f, [5])).to.throw(IdxShapeError, /row 5 is outside 0..4/);
  });

  it("MNIST shard: row reads equal the full-file gather", () => {
    const indices = [59999, 0, 12345, 777];
    const shard = loadDataset("mnist", "train", indices);
    const all = loadDataset("mnist", "train");
    expect(shard.count).to.equal(4);
    indices.forEach((src, i) => {
      expect(shard.labels[i]).to.equal(all.labels[src]);
      expect([...shard.images.subarray(i * 784, (i + 1) * 784)]).to.deep.equal([...all.images.subarray(src * 784, (src + 1) * 784)]);
    });
  });
});
