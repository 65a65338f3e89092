import { expect } from "chai";
import * as dagPb from "@ipld/dag-pb";
import { UnixFS } from "ipfs-unixfs";
import { importBytes } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { ContentTooLargeError, InvalidCidError, NotAFileError } from "../../ipfs/errors.ts";
import {
  declaredFileSize, KUBO_CHUNK_SIZE, KUBO_MAX_CHILDREN, kuboImporterOptions, limitBytes, parseCid,
} from "../../ipfs/unixfs-format.ts";
import { pattern, text } from "./helpers.ts";

/** A blockstore that is just a Map: enough for the importer and for walking the result. */
class MapBlocks {
  readonly blocks = new Map<string, Uint8Array>();
  async put(cid: CID, bytes: Uint8Array): Promise<CID> { this.blocks.set(cid.toString(), bytes); return cid; }
  get(cid: CID): Uint8Array {
    const b = this.blocks.get(cid.toString());
    if (b == null) throw new Error(`missing block ${cid}`);
    return b;
  }
}

async function kuboAdd(bytes: Uint8Array, cidVersion: 0 | 1, blocks = new MapBlocks()): Promise<CID> {
  return (await importBytes(bytes, blocks, kuboImporterOptions(cidVersion))).cid;
}

describe("ipfs: Kubo-compatible CIDs (importer settings)", function () {
  this.timeout(30_000);

  // Expected values are Kubo's own outputs, from its sharness tests (ipfs/kubo
  // test/sharness/t0040-add-and-cat.sh, t0114-gateway-subdomains/README.md, Kubo 0.18.1).
  const known: Array<[string, string, 0 | 1, string]> = [
    ["empty file", "", 0, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"],
    ["empty file", "", 1, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"],
    ["hello\\n", "hello\n", 0, "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"],
    ["hello\\n", "hello\n", 1, "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"],
    ["Hello Worlds!\\n", "Hello Worlds!\n", 0, "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH"],
    ["Hello Mars!\\n", "Hello Mars!\n", 1, "bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4"],
    ["Hello Venus!\\n", "Hello Venus!\n", 0, "QmU5kp3BH3B8tnWUU2Pikdb2maksBNkb92FHRr56hyghh4"],
    ["Hello Neptune!\\nHello Pluton!", "Hello Neptune!\nHello Pluton!", 0, "QmZDhWpi8NvKrekaYYhxKCdNVGWsFFe1CREnAjP1QbPaB3"],
    ["hello world\\n", "hello world\n", 0, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"],
  ];
  for (const [label, input, version, expected] of known) {
    it(`gives Kubo's CIDv${version} for "${label}"`, async () => {
      expect((await kuboAdd(text(input), version)).toString()).to.equal(expected);
    });
  }

  it("gives the sha2-256 raw CID for a single-chunk CIDv1 file (\"hello world\")", async () => {
    const expected = CID.createV1(raw.code, await sha256.digest(text("hello world"))).toString();
    expect(expected).to.equal("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
    expect((await kuboAdd(text("hello world"), 1)).toString()).to.equal(expected);
  });

  it("builds a 1 MiB CIDv1 file as Kubo does: four 256 KiB raw leaves under one dag-pb root", async () => {
    const bytes = pattern(1024 * 1024, 7);
    // Derive the expected root independently of the importer, from the UnixFS spec.
    const leaves: CID[] = [];
    for (let off = 0; off < bytes.length; off += KUBO_CHUNK_SIZE) {
      leaves.push(CID.createV1(raw.code, await sha256.digest(bytes.subarray(off, off + KUBO_CHUNK_SIZE))));
    }
    const rootData = new UnixFS({ type: "file", blockSizes: leaves.map(() => BigInt(KUBO_CHUNK_SIZE)) });
    const rootBlock = dagPb.encode(dagPb.prepare({
      Data: rootData.marshal(),
      Links: leaves.map((Hash) => ({ Hash, Name: "", Tsize: KUBO_CHUNK_SIZE })),
    }));
    const expected = CID.createV1(dagPb.code, await sha256.digest(rootBlock));

    const blocks = new MapBlocks();
    const cid = await kuboAdd(bytes, 1, blocks);
    expect(cid.toString()).to.equal(expected.toString());
    expect(declaredFileSize(cid, blocks.get(cid))).to.equal(bytes.length);
  });

  it("uses dag-pb leaves and CIDv0 for --cid-version 0 multi-chunk files", async () => {
    const blocks = new MapBlocks();
    const cid = await kuboAdd(pattern(600_000, 3), 0, blocks);
    expect(cid.version).to.equal(0);
    const root = dagPb.decode(blocks.get(cid));
    expect(root.Links).to.have.lengthOf(3);
    for (const link of root.Links) {
      expect(link.Hash.version).to.equal(0);
      const leaf = UnixFS.unmarshal(dagPb.decode(blocks.get(link.Hash)).Data ?? new Uint8Array());
      expect(leaf.type).to.equal("file");
    }
    expect(UnixFS.unmarshal(root.Data ?? new Uint8Array()).blockSizes).to.deep.equal([262144n, 262144n, 75712n]);
  });

  it("lays out 175 chunks as a balanced 174-ary tree (second level appears at chunk 175)", async () => {
    const blocks = new MapBlocks();
    const size = (KUBO_MAX_CHILDREN + 1) * KUBO_CHUNK_SIZE;
    const cid = await kuboAdd(pattern(size, 11), 1, blocks);
    const root = dagPb.decode(blocks.get(cid));
    expect(root.Links).to.have.lengthOf(2);
    const [full, rest] = root.Links.map((l) => dagPb.decode(blocks.get(l.Hash)));
    expect(full?.Links).to.have.lengthOf(KUBO_MAX_CHILDREN);
    expect(rest?.Links).to.have.lengthOf(1);
    for (const link of full?.Links ?? []) {
      expect(link.Hash.code).to.equal(raw.code);
      expect(blocks.get(link.Hash).length).to.equal(KUBO_CHUNK_SIZE);
    }
    expect(declaredFileSize(cid, blocks.get(cid))).to.equal(size);
  });

  it("parseCid accepts v0, v1 and /ipfs/ paths, and names the input when it refuses one", () => {
    expect(parseCid("/ipfs/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o").version).to.equal(0);
    expect(parseCid(" bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e ").version).to.equal(1);
    for (const bad of ["", "not-a-cid", "Qm123", "bafy!!!"]) {
      expect(() => parseCid(bad)).to.throw(InvalidCidError, `"${bad}"`);
    }
  });

  it("refuses to read a declared size from a directory node", async () => {
    const dir = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: "directory" }).marshal(), Links: [] }));
    const cid = CID.createV1(dagPb.code, await sha256.digest(dir));
    expect(() => declaredFileSize(cid, dir)).to.throw(NotAFileError, cid.toString());
  });

  it("limitBytes stops pulling from the source as soon as the limit is crossed", async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 100; i++) { pulled++; yield new Uint8Array(1000); }
    }
    let aborted = false;
    const seen: number[] = [];
    try {
      for await (const c of limitBytes(source(), 2500, "bafyexample", () => { aborted = true; })) seen.push(c.length);
      expect.fail("should have thrown");
    } catch (err) {
      expect(err).to.be.instanceOf(ContentTooLargeError);
      expect((err as ContentTooLargeError).message).to.contain("bafyexample");
    }
    expect(seen).to.deep.equal([1000, 1000]);
    expect(pulled).to.equal(3);
    expect(aborted).to.equal(true);
  });
});
