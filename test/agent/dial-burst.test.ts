/**
 * A task's peers connect all at once on one host. Every agent dials every other when the task
 * starts; on loopback all of them share 127.0.0.1, and libp2p's default inbound limits (5 new
 * connections per second per IP, 10 upgrading) refused most of those dials, so verifiers could not
 * fetch from trainers they never got connected to (docs/scale.md). Real embedded stores, no mocks.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEmbeddedStore, type EmbeddedStore } from "../../ipfs/embedded-store.ts";

describe("embedded stores: a burst of dials on one host", function () {
  this.timeout(120_000);
  const N = 12;
  let root: string;
  let stores: EmbeddedStore[] = [];

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), "dial-burst-"));
    stores = await Promise.all(Array.from({ length: N }, (_, i) => createEmbeddedStore({ repoDir: path.join(root, `r${i}`) })));
  });

  after(async () => {
    await Promise.all(stores.map((s) => s.stop()));
    rmSync(root, { recursive: true, force: true });
  });

  it("every node connects to every other when all dial at once, and fetches from each", async () => {
    const addrs = await Promise.all(stores.map(async (s) => (await s.multiaddrs())[0]));
    // As the agents do (Agent.dialPeers): each dials the peers registered before it, 4 at a time,
    // all nodes at once, so node 0 gets 11 inbound dials from 127.0.0.1 within a second.
    const failures: string[] = [];
    await Promise.all(stores.map(async (s, i) => {
      const targets = addrs.slice(0, i);
      let next = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (next < targets.length) {
          const j = next++;
          await s.dial(targets[j], { timeoutMs: 30_000 }).catch((err: Error) => failures.push(`${i}->${j}: ${err.message}`));
        }
      }));
    }));
    expect(failures, "dials refused").to.deep.equal([]);
    for (const s of stores) expect(s.connectedPeers().length).to.equal(N - 1);
    const cids = await Promise.all(stores.map((s, i) => s.put(new Uint8Array(300_000).fill(i + 1))));
    const got = await stores[0].get(cids[N - 1], { timeoutMs: 20_000 });
    expect(got[0]).to.equal(N);
  });
});
