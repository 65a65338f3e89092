import { expect } from "chai";
import { parseAgentArgs, parsePartition, parseRoles, UsageError } from "../../node/agent/config.ts";
import { createAttackFor } from "../../node/agent/attack.ts";
import { attackActive } from "../../node/protocol/local-update.ts";
import { cidToBytes, bytesToCid, InvalidCidStringError } from "../../node/chain/cid.ts";
import { maskFrom, maskHas } from "../../node/chain/task.ts";

describe("agent flags", () => {
  it("parses a full command line", () => {
    const c = parseAgentArgs(["--rpc", "http://127.0.0.1:9545", "--account", "3", "--roles", "trainer,verifier", "--peers", "4", "--peer-index", "2",
      "--partition", "dirichlet:0.5", "--epochs", "2", "--lr", "0.01", "--optimizer", "sgd", "--log-format", "json", "--ipfs-peer", "/ip4/127.0.0.1/tcp/1/p2p/x", "--ipfs-peer", "/ip4/127.0.0.1/tcp/2/p2p/y"]);
    expect(c).to.not.equal(null);
    expect(c!.rpcUrl).to.equal("http://127.0.0.1:9545");
    expect(c!.accountIndex).to.equal(3);
    expect(c!.roles).to.deep.equal(["trainer", "verifier"]);
    expect(c!.partition).to.deep.equal({ kind: "dirichlet", alpha: 0.5 });
    expect(c!.ipfsPeers).to.have.length(2);
    expect(c!.optimizer).to.equal("sgd");
  });

  it("defaults to all roles, IID, Adam at lr 3e-3", () => {
    const c = parseAgentArgs([])!;
    expect(c.roles).to.deep.equal(["trainer", "verifier", "aggregator"]);
    expect(c.partition).to.deep.equal({ kind: "iid" });
    expect(c.learningRate).to.equal(0.003);
  });

  it("turns DP-SGD on with --dp example, off by default", () => {
    expect(parseAgentArgs([])!.exampleDp).to.equal(undefined);
    expect(parseAgentArgs(["--dp", "example", "--dp-example-sigma", "2", "--dp-example-batch", "128"])!.exampleDp)
      .to.deep.equal({ clipNorm: 1, noiseMultiplier: 2, expectedBatchSize: 128 });
    expect(() => parseAgentArgs(["--dp", "peer"])).to.throw(UsageError);
  });

  it("reads --link-peers as scenario positions and refuses a malformed address", () => {
    const a = "0x" + "ab".repeat(20), b = "0x" + "CD".repeat(20);
    expect(parseAgentArgs(["--link-peers", `${a},${b}`])!.linkPeers).to.deep.equal([a, b.toLowerCase()]);
    expect(parseAgentArgs([])!.linkPeers).to.equal(undefined);
    expect(() => parseAgentArgs(["--link-peers", `${a},0x12`])).to.throw(UsageError, /not an account address/);
  });

  it("returns null for --help", () => {
    expect(parseAgentArgs(["--help"])).to.equal(null);
  });

  for (const [argv, needle] of [
    [["--peers", "x"], "--peers must be an integer"],
    [["--peers", "2", "--peer-index", "2"], "--peer-index 2 must be < --peers 2"],
    [["--roles", "miner"], 'unknown role "miner"'],
    [["--partition", "dirichlet"], "needs a positive alpha"],
    [["--partition", "zipf:2"], 'unknown partition "zipf:2"'],
    [["--contract", "0x1234"], "--contract must be a 0x-prefixed 20-byte address"],
    [["--private-key", "nothex"], "--private-key must be 32 bytes of hex"],
    [["--rpc", "not a url"], "--rpc is not a URL"],
    [["--optimizer", "rmsprop"], "rmsprop"],
    [["--bogus"], "unknown option"],
  ] as [string[], string][]) {
    it(`refuses ${argv.join(" ")} with a clear message`, () => {
      expect(() => parseAgentArgs(argv)).to.throw(UsageError, needle);
    });
  }

  it("limits an attack to the rounds given by --attack-rounds", async () => {
    const c = parseAgentArgs(["--attack", "sign-flip", "--attack-rounds", "1,3"])!;
    expect(c.attackRounds).to.deep.equal([1, 3]);
    expect(() => parseAgentArgs(["--attack-rounds", "0"])).to.throw(UsageError, "round numbers >= 1");
    const a = await createAttackFor("sign-flip", { seed: 1, numPeers: 5, rounds: c.attackRounds });
    expect(attackActive(a, 1)).to.equal(true);
    expect(attackActive(a, 2)).to.equal(false);
    const always = await createAttackFor("gaussian", { seed: 1, numPeers: 5 });
    expect(attackActive(always, 7)).to.equal(true);
  });

  it("parses roles and partitions on their own", () => {
    expect(parseRoles("all")).to.have.length(3);
    expect(parsePartition("shards:2")).to.deep.equal({ kind: "shards", classesPerPeer: 2 });
    expect(parsePartition("quantity:1")).to.deep.equal({ kind: "quantity", alpha: 1 });
  });

  it("binds --attack and --attack-scale to an attack plan, refusing unknown kinds", async () => {
    const flip = await createAttackFor("sign-flip", { seed: 1, numPeers: 5 });
    expect(flip.kind).to.equal("sign-flip");
    expect(flip.rounds).to.equal(undefined);
    const scaled = await createAttackFor("scale", { seed: 1, numPeers: 5, scale: 3 });
    expect(scaled.params).to.include({ scale: 3 });
    let err: unknown;
    try { await createAttackFor("teleport", { seed: 1, numPeers: 5 }); } catch (e) { err = e; }
    expect(String(err)).to.contain('unknown attack "teleport"');
  });
});

describe("chain encodings", () => {
  it("round-trips CIDv0 and CIDv1 through the binary form the contract stores", () => {
    for (const cid of ["QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"]) {
      expect(bytesToCid(cidToBytes(cid))).to.equal(cid);
    }
    expect(bytesToCid("0x")).to.equal("");
  });

  it("names a malformed CID", () => {
    expect(() => cidToBytes("Qm-not-a-cid")).to.throw(InvalidCidStringError, "Qm-not-a-cid");
  });

  it("builds verdict masks by commit index", () => {
    const mask = maskFrom([true, false, true, true]);
    expect(mask).to.equal(0b1101n);
    expect([0, 1, 2, 3].map((i) => maskHas(mask, i))).to.deep.equal([true, false, true, true]);
  });
});
