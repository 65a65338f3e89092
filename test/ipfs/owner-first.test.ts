/**
 * Owner-first fetching (EmbeddedStore.get with providers / hintProviders): a verifier asks the
 * update's committer alone before the whole swarm. Real embedded Helia nodes on loopback, fully
 * meshed; several peers already hold the update, as after other verifiers fetched it. Counts the
 * block bytes the fetcher's bitswap received (duplicates included) from the bitswap messages.
 */
import { expect } from "chai";
import { createEmbeddedStore, type EmbeddedStore } from "../../ipfs/embedded-store.ts";
import { countBitswapBytes, pattern, sameBytes, tempDir } from "./helpers.ts";

describe("ipfs: owner-first fetching", function () {
  this.timeout(120_000);
  const nodes: EmbeddedStore[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const SIZE = 407_000; // an MLP update
  let owner: EmbeddedStore;
  let holders: EmbeddedStore[];

  before(async () => {
    for (let i = 0; i < 7; i++) {
      const tmp = await tempDir(`owner-${i}`);
      cleanups.push(tmp.cleanup);
      nodes.push(await createEmbeddedStore({ repoDir: tmp.dir }));
    }
    [owner, ...holders] = nodes;
    // Full mesh, as agents dial every registered peer.
    for (let i = 0; i < nodes.length; i++) {
      for (let j = 0; j < i; j++) await nodes[i].dial((await nodes[j].multiaddrs())[0]);
    }
  });
  after(async () => {
    for (const n of nodes) await n.stop();
    for (const clean of cleanups) await clean();
  });

  it("asks the committer alone: every block comes from it, once", async () => {
    const bytes = pattern(SIZE, 11);
    const cid = await owner.put(bytes);
    // Three peers already hold it (other verifiers fetched it).
    for (const h of holders.slice(0, 3)) await h.get(cid, { timeoutMs: 20_000 });
    const fetcher = holders[5];
    const seen = countBitswapBytes(fetcher);
    const got = await fetcher.get(cid, { timeoutMs: 20_000, providers: [(await owner.multiaddrs())[0]] });
    expect(sameBytes(got, bytes)).to.equal(true);
    expect([...seen.senders]).to.deep.equal([await owner.peerId()]);
    expect(seen.bytes, "no duplicate blocks").to.be.at.most(SIZE + 4096);
  });

  it("uses a remembered hint (hintProviders) the same way", async () => {
    const bytes = pattern(SIZE, 12);
    const cid = await owner.put(bytes);
    for (const h of holders.slice(0, 3)) await h.get(cid, { timeoutMs: 20_000 });
    const fetcher = holders[4];
    fetcher.hintProviders(cid, [(await owner.multiaddrs())[0]]);
    const seen = countBitswapBytes(fetcher);
    expect(sameBytes(await fetcher.get(cid, { timeoutMs: 20_000 }), bytes)).to.equal(true);
    expect([...seen.senders]).to.deep.equal([await owner.peerId()]);
  });

  it("a hint naming a peer without the content (a lying or stale hint) falls back to the swarm", async () => {
    const bytes = pattern(SIZE, 13);
    const cid = await owner.put(bytes);
    const fetcher = holders[3];
    // The "owner" named is a connected peer that never had the update.
    const liar = holders[0];
    const got = await fetcher.get(cid, { timeoutMs: 20_000, providers: [(await liar.multiaddrs())[0]] });
    expect(sameBytes(got, bytes)).to.equal(true);
  });

  it("an owner that went away: the swarm still serves the update", async () => {
    const tmp = await tempDir("owner-gone");
    cleanups.push(tmp.cleanup);
    const gone = await createEmbeddedStore({ repoDir: tmp.dir });
    const goneAddr = (await gone.multiaddrs())[0];
    await holders[1].dial(goneAddr);
    const bytes = pattern(SIZE, 14);
    const cid = await gone.put(bytes);
    await holders[1].get(cid, { timeoutMs: 20_000 });
    await gone.stop();
    const got = await holders[2].get(cid, { timeoutMs: 20_000, providers: [goneAddr] });
    expect(sameBytes(got, bytes)).to.equal(true);
  });
});
