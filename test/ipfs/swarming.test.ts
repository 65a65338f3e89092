import { expect } from "chai";
import * as dagPb from "@ipld/dag-pb";
import { CID } from "multiformats/cid";
import { createEmbeddedStore, type EmbeddedStore } from "../../ipfs/embedded-store.ts";
import { ContentTooLargeError } from "../../ipfs/errors.ts";
import { pattern, sameBytes, tempDir } from "./helpers.ts";

describe("ipfs: peer-to-peer fetch and swarming between embedded nodes", function () {
  this.timeout(60_000);
  const nodes: EmbeddedStore[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  let a: EmbeddedStore;
  let b: EmbeddedStore;
  let c: EmbeddedStore;

  before(async () => {
    for (const name of ["a", "b", "c"]) {
      const tmp = await tempDir(`swarm-${name}`);
      cleanups.push(tmp.cleanup);
      nodes.push(await createEmbeddedStore({ repoDir: tmp.dir }));
    }
    [a, b, c] = nodes as [EmbeddedStore, EmbeddedStore, EmbeddedStore];
    await b.dial((await a.multiaddrs())[0] ?? "");
    await c.dial((await b.multiaddrs())[0] ?? "");
  });
  after(async () => {
    for (const n of nodes) await n.stop();
    for (const clean of cleanups) await clean();
  });

  it("refuses an oversized file fetched from a peer after reading only its root block", async () => {
    const bytes = pattern(1_500_000, 77);
    const cid = await a.put(bytes);
    const err = await b.get(cid, { maxBytes: 1_000_000, timeoutMs: 10_000 }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ContentTooLargeError);
    expect((err as ContentTooLargeError).sizeBytes).to.equal(1_500_000);
    const root = dagPb.decode(await a.getBlock(cid));
    const leaf = root.Links[0]?.Hash as CID;
    expect(await b.has(cid)).to.equal(true);
    expect(await b.has(leaf.toString())).to.equal(false, "leaves must not have been fetched");
  });

  it("B fetches from A; with A stopped, C (connected only to B) fetches the same file from B", async () => {
    const bytes = pattern(1_300_000, 42);
    const cid = await a.put(bytes);
    expect(await b.has(cid)).to.equal(false);
    expect(sameBytes(await b.get(cid, { timeoutMs: 20_000 }), bytes)).to.equal(true);
    expect(await b.listPins()).to.not.include(cid); // fetched, cached, not pinned

    const aId = await a.peerId();
    expect(c.connectedPeers()).to.not.include(aId);
    await a.stop();
    expect(b.connectedPeers()).to.not.include(aId);

    expect(await c.has(cid)).to.equal(false);
    expect(sameBytes(await c.get(cid, { timeoutMs: 20_000 }), bytes)).to.equal(true);
    expect(c.connectedPeers()).to.deep.equal([await b.peerId()]);
  });
});
