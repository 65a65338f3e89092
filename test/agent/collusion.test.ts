import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CollusionChannelError, directoryChannel } from "../../node/attacks/collusion.ts";

describe("collusion side channel (directory)", () => {
  it("gives every colluder the whole group's honest deltas, its own included", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "peerfl-collude-"));
    const a = directoryChannel({ dir, id: "peer3", groupSize: 2, pollMs: 20 });
    const b = directoryChannel({ dir, id: "peer4", groupSize: 2, pollMs: 20 });
    const deadlineMs = Date.now() + 5000;
    const [ga, gb] = await Promise.all([
      a.exchange(1, Float32Array.from([1, 2, 3]), { deadlineMs }),
      new Promise<Float32Array[]>((r) => setTimeout(() => r(b.exchange(1, Float32Array.from([4, 5, 6]), { deadlineMs })), 100)),
    ]);
    expect(ga.map((d) => Array.from(d))).to.deep.equal([[1, 2, 3], [4, 5, 6]]);
    expect(gb.map((d) => Array.from(d))).to.deep.equal([[1, 2, 3], [4, 5, 6]]);
  });

  it("stops waiting at the deadline with whatever arrived, and keeps rounds apart", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "peerfl-collude-"));
    const a = directoryChannel({ dir, id: "peer3", groupSize: 3, pollMs: 20 });
    const t0 = Date.now();
    const got = await a.exchange(2, Float32Array.from([7]), { deadlineMs: Date.now() + 300 });
    expect(Date.now() - t0).to.be.within(250, 2000);
    expect(got.map((d) => Array.from(d))).to.deep.equal([[7]]);
    expect((await a.exchange(3, Float32Array.from([8]), { deadlineMs: Date.now() })).map((d) => Array.from(d))).to.deep.equal([[8]]);
  });

  it("refuses ids that could escape the directory", () => {
    expect(() => directoryChannel({ dir: "/tmp", id: "../x", groupSize: 2 })).to.throw(CollusionChannelError);
    expect(() => directoryChannel({ dir: "/tmp", id: "a", groupSize: 0 })).to.throw(CollusionChannelError);
  });
});
