/**
 * The clustered round's rules (node/protocol/cluster-round.ts), pure: with the d2d-5peers scenario
 * (peer 0 heads 1, 2, 4; peer 3 alone), real update bytes and CIDs, and hand-made head records:
 * an honest record passes; a head that drops an honest member, records other members, or records
 * a cluster it does not head is caught; a missing record sends the members to the flat path.
 * Also the explorer's pure helpers (explorer/cluster-report.ts).
 */
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { linkBytesByMedium, roundEnergy } from "../../explorer/cluster-report.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { deriveSeed, mulberry32 } from "../../node/ml/random.ts";
import { encodeUpdate, updateCid, type RoundUpdate } from "../../node/protocol/index.ts";
import { maskOfPeers, type ClusterRecord } from "../../node/roles/cluster-chain.ts";
import { clusterCheckers, outsideCheckDrawn, judgeCluster, judgeClusteredRound, roundClustering, type IndexedCommit } from "../../node/protocol/cluster-round.ts";
import { clusterDeploymentJson, clusterSetupFrom } from "../../node/roles/cluster-roles.ts";
import type { RoundRules } from "../../node/protocol/task-config.ts";

const spec = modelSpecFor("mlp");
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
const setup = clusterSetupFrom(readFileSync("examples/scenarios/d2d-5peers.json"), { maxClusterSize: 8, minHeadEnergy: 0.3 });
const rules: RoundRules = { rule: "centered-clipping", ruleParam: 0, copyCosineThreshold: 0.999, sampleWeightClip: 3 };
const global = Float32Array.from({ length: D }, (_, i) => Math.sin(i) * 0.05);
const models = { global, previousGlobal: null };

async function fixture() {
  const updates: RoundUpdate[] = [];
  const commits: IndexedCommit[] = [];
  for (let p = 0; p < 5; p++) {
    const rng = mulberry32(deriveSeed(p, 1));
    const w = Float32Array.from(global, (g) => g + 0.002 + (rng() - 0.5) * 0.01);
    const cid = await updateCid(encodeUpdate(w, spec));
    updates.push({ cid, numSamples: 100, weights: w });
    commits.push({ index: p, peerIndex: p, trainer: `0x${String(p + 1).padStart(40, "0")}`, cid, numSamples: 100 });
  }
  const fetchedCommits: number[] = [];
  const fetch = async (idx: number[]) => { fetchedCommits.push(...idx); return idx.map((i) => updates[i]); };
  const honest = await judgeCluster(rules, models, [0, 1, 2, 4].map((p) => updates[p]));
  const record: ClusterRecord = { headIndex: 0, members: maskOfPeers([0, 1, 2, 4]), included: maskOfPeers([0, 1, 2, 4]), aggregateCid: await updateCid(encodeUpdate(honest.aggregate!, spec)), acceptedSamples: 400 };
  const judge = (records: ClusterRecord[]) => judgeClusteredRound({ rules, models, spec, setup, seed: "ab", commits, records, fetch });
  return { updates, record, judge, honest, commits, fetch, fetchedCommits };
}

describe("clustered rounds: the rules every verifier, aggregator and the audit apply", () => {
  it("an honest head's record is reproduced and its aggregate is one global input next to the lone peer", async () => {
    const { record, judge, honest } = await fixture();
    expect(honest.included).to.deep.equal([true, true, true, true]);
    const j = await judge([record]);
    expect(j.clusters.map((c) => [c.head, c.status])).to.deep.equal([[0, "ok"]]);
    expect(j.inputs.map((x) => [x.kind, x.commits])).to.deep.equal([["cluster", [0, 1, 2, 4]], ["lone", [3]]]);
    expect(j.accepted).to.deep.equal([true, true, true, true, true]);
  });

  it("catches a head that drops an honest member: its own commit is rejected, the members are judged alone", async () => {
    const { record, judge, updates } = await fixture();
    const kept = await judgeCluster({ ...rules, copyCosineThreshold: 0 }, models, [0, 1, 4].map((p) => updates[p]));
    const dropped: ClusterRecord = { ...record, included: maskOfPeers([0, 1, 4]), aggregateCid: await updateCid(encodeUpdate(kept.aggregate!, spec)), acceptedSamples: 300 };
    const j = await judge([dropped]);
    expect(j.clusters[0].status).to.equal("invalid");
    expect(j.clusters[0].reason).to.match(/included \[0, 1, 4\], but the task's rule includes \[0, 1, 2, 4\]/);
    expect(j.accepted).to.deep.equal([false, true, true, true, true]);
    expect(j.rejections.find((r) => r.index === 0)?.message).to.match(/^cluster head:/);
  });

  it("catches a record naming a peer outside the clustering, and a record by a peer that heads nothing", async () => {
    const { record, judge } = await fixture();
    const wrong = await judge([{ ...record, members: maskOfPeers([0, 1, 2, 3, 4]) }]);
    expect(wrong.clusters[0]).to.include({ status: "invalid" });
    expect(wrong.clusters[0].reason).to.match(/not a subset of the clustering's/);
    expect(wrong.accepted[0]).to.equal(false);
    const stray = await judge([{ ...record, headIndex: 3, members: maskOfPeers([3, 1]) }]);
    expect(stray.strayRecords.map((r) => r.headIndex)).to.deep.equal([3]);
    expect(stray.clusters[0].status).to.equal("missing"); // the real head did not record
    expect(stray.accepted).to.deep.equal([true, true, true, false, true]);
  });

  it("an honest head that could not fetch a member records the subset: the member is judged alone, nobody is blamed; a lie over the subset is caught", async () => {
    const { judge, updates, fetchedCommits } = await fixture();
    const subset = await judgeCluster(rules, models, [0, 1, 2].map((p) => updates[p]));
    const leftOut: ClusterRecord = { headIndex: 0, members: maskOfPeers([0, 1, 2]), included: maskOfPeers([0, 1, 2]), aggregateCid: await updateCid(encodeUpdate(subset.aggregate!, spec)), acceptedSamples: 300 };
    const j = await judge([leftOut]);
    expect(j.clusters[0]).to.include({ status: "ok", fullyChecked: true });
    expect(j.clusters[0].leftOut).to.deep.equal([4]);
    expect(j.clusters[0].members).to.deep.equal([0, 1, 2, 4]); // the clustering's members, as before
    expect(j.inputs.map((x) => [x.kind, x.commits])).to.deep.equal([["cluster", [0, 1, 2]], ["lone", [3]], ["lone", [4]]]);
    expect(j.accepted).to.deep.equal([true, true, true, true, true]); // member 4 is not hurt, head 0 is not blamed
    expect(j.lone).to.deep.equal([3, 4]);
    expect(fetchedCommits.filter((i) => i === 4)).to.have.length(1); // fetched once, as a lone update
    // the same subset with a lying aggregate (3x the delta) or a lying verdict (drops member 2) is caught
    const scaled = subset.aggregate!.map((w, k) => models.global[k] + 3 * (w - models.global[k]));
    const lie = await judge([{ ...leftOut, aggregateCid: await updateCid(encodeUpdate(scaled, spec)) }]);
    expect(lie.clusters[0].status).to.equal("invalid");
    expect(lie.accepted[0]).to.equal(false);
    const dropped = await judgeCluster({ ...rules, copyCosineThreshold: 0 }, models, [0, 1].map((p) => updates[p]));
    const drop = await judge([{ ...leftOut, included: maskOfPeers([0, 1]), aggregateCid: await updateCid(encodeUpdate(dropped.aggregate!, spec)), acceptedSamples: 200 }]);
    expect(drop.clusters[0].reason).to.match(/included \[0, 1\], but the task's rule includes \[0, 1, 2\]/);
    expect(drop.accepted).to.deep.equal([false, true, true, true, true]);
  });

  it("a missing record: the members take the flat path", async () => {
    const { judge } = await fixture();
    const j = await judge([]);
    expect(j.clusters[0].status).to.equal("missing");
    expect(j.inputs.every((x) => x.kind === "lone")).to.equal(true);
    expect(j.lone).to.deep.equal([0, 1, 2, 3, 4]);
  });
});

describe("clustered rounds: root-validation (rule 8) at both levels", () => {
  it("the head applies the root-set vote to its members; a checker recomputes it and catches a head that skips it", async () => {
    const rootRules: RoundRules = { rule: "root-validation", ruleParam: 0, copyCosineThreshold: 0.999, sampleWeightClip: 3 };
    const updates: RoundUpdate[] = [];
    const commits: IndexedCommit[] = [];
    for (let p = 0; p < 5; p++) {
      const rng = mulberry32(deriveSeed(p, 7));
      // peer 2 sends noise without the honest drift toward where the root set wants the model (a free-rider):
      // close enough to pass the public pre-filter, useless on the root set
      const w = Float32Array.from(global, (g) => g + (p === 2 ? 0 : 0.002) + (rng() - 0.5) * 0.004);
      const cid = await updateCid(encodeUpdate(w, spec));
      updates.push({ cid, numSamples: 100, weights: w });
      commits.push({ index: p, peerIndex: p, trainer: `0x${String(p + 1).padStart(40, "0")}`, cid, numSamples: 100 });
    }
    // a stand-in for the public root set's loss: squared distance to the point the honest updates head for
    const rootLoss = async (w: Float32Array) => { let s = 0; for (let k = 0; k < w.length; k++) { const d = w[k] - global[k] - 0.002; s += d * d; } return s; };
    const members = [0, 1, 2, 4].map((p) => updates[p]);
    const preFilterOnly = await judgeCluster(rootRules, models, members);
    expect(preFilterOnly.included).to.deep.equal([true, true, true, true]); // the public pre-filter alone lets peer 2 through
    const full = await judgeCluster(rootRules, models, members, rootLoss);
    expect(full.included).to.deep.equal([true, true, false, true]);
    expect(full.rejections.map((r) => r.message).join()).to.match(/root validation/);
    const record = (j: typeof full, included: number[]): Promise<ClusterRecord> => updateCid(encodeUpdate(j.aggregate!, spec)).then((aggregateCid) => ({ headIndex: 0, members: maskOfPeers([0, 1, 2, 4]), included: maskOfPeers(included), aggregateCid, acceptedSamples: 100 * included.length }));
    const judge = (r: ClusterRecord) => judgeClusteredRound({ rules: rootRules, models, spec, setup, seed: "ab", commits, records: [r], fetch: async (idx) => idx.map((i) => updates[i]), rootLoss });
    const honest = await judge(await record(full, [0, 1, 4]));
    expect(honest.clusters[0].status).to.equal("ok");
    expect(honest.accepted).to.deep.equal([true, true, false, true, true]);
    const skipped = await judge(await record(preFilterOnly, [0, 1, 2, 4]));
    expect(skipped.clusters[0].status).to.equal("invalid");
    expect(skipped.clusters[0].reason).to.match(/included \[0, 1, 2, 4\], but the task's rule includes \[0, 1, 4\]/);
  });
});

describe("clustered rounds: sampled checks", () => {
  const clustering = { clusters: [{ head: 0, members: [0, 1, 2, 4].map((peer) => ({ peer, mode: "direct" as const })) }, { head: 5, members: [5, 6].map((peer) => ({ peer, mode: "direct" as const })) }] };
  it("draws k checkers among each cluster's members (never the head) and an outsider with probability p, deterministic in the seed", () => {
    const committee = [0, 1, 2, 3, 4, 5, 6, 7];
    const seeds = Array.from({ length: 400 }, (_, i) => "0x" + i.toString(16).padStart(64, "0"));
    const policy = { insideCheckers: 1, outsideCheckBps: 3000 };
    const a = clusterCheckers(seeds[1], clustering as never, committee, policy);
    expect(a).to.deep.equal(clusterCheckers(seeds[1], clustering as never, committee, policy));
    let drawn = 0;
    const insideFirsts = new Set<number>();
    for (const seed of seeds) {
      const vs = clusterCheckers(seed, clustering as never, committee, policy).get(0)!;
      const members = [0, 1, 2, 4];
      expect(vs).to.not.include(0);
      expect(members).to.include(vs[0]); // the inside checker
      insideFirsts.add(vs[0]);
      expect(vs.length === 2).to.equal(outsideCheckDrawn(seed, 0, 3000));
      if (vs.length === 2) { drawn++; expect(members).to.not.include(vs[1]); }
    }
    // p = 30 %: the outside check is drawn in about 30 % of the rounds (400 seeds: 120 ± 3 sd ≈ 28)
    expect(drawn).to.be.within(92, 148);
    expect(insideFirsts.size).to.be.greaterThan(1); // other seeds draw other members
    // p = 100 %: always one outsider; k = 3 in a cluster of 4: every member but the head
    const all = clusterCheckers(seeds[2], clustering as never, committee, { insideCheckers: 3, outsideCheckBps: 10000 }).get(0)!;
    expect([...all.slice(0, 3)].sort()).to.deep.equal([1, 2, 4]);
    expect([3, 5, 6, 7]).to.include(all[3]);
    // k = 0: only the sampled outsider (some rounds nobody checks: the record is taken as it is)
    const none = seeds.map((seed) => clusterCheckers(seed, clustering as never, committee, { insideCheckers: 0, outsideCheckBps: 3000 }).get(0)!);
    expect(none.every((vs) => vs.length <= 1)).to.equal(true);
    expect(none.some((vs) => vs.length === 0)).to.equal(true);
  });

  it("a record taken unchecked costs no member download; one whose aggregate cannot be fetched is checked in full", async () => {
    const { record, updates, commits, fetch, fetchedCommits, honest } = await fixture();
    const base = { rules, models, spec, setup, seed: "ab", commits, records: [record], fetch, fullCheck: () => false };
    const j = await judgeClusteredRound({ ...base, fetchAggregate: async () => honest.aggregate });
    expect(fetchedCommits).to.deep.equal([3]); // the lone update only
    expect(j.clusters[0]).to.include({ status: "ok", fullyChecked: false });
    expect(j.accepted).to.deep.equal([true, true, true, true, true]);
    fetchedCommits.length = 0;
    const k = await judgeClusteredRound({ ...base, fetchAggregate: async () => null });
    expect(fetchedCommits.sort()).to.deep.equal([0, 1, 2, 3, 4]);
    expect(k.clusters[0]).to.include({ status: "ok", fullyChecked: true });
    expect(updates).to.have.length(5);
  });

  it("an unchecked record that leaves a member out is taken as recorded (only a checker's challenge overturns it)", async () => {
    const { record, commits, fetch, updates } = await fixture();
    const kept = await judgeCluster({ ...rules, copyCosineThreshold: 0 }, models, [0, 1, 4].map((p) => updates[p]));
    const dropped: ClusterRecord = { ...record, included: maskOfPeers([0, 1, 4]), aggregateCid: await updateCid(encodeUpdate(kept.aggregate!, spec)), acceptedSamples: 300 };
    const j = await judgeClusteredRound({ rules, models, spec, setup, seed: "ab", commits, records: [dropped], fetch, fullCheck: () => false, fetchAggregate: async () => kept.aggregate });
    expect(j.accepted).to.deep.equal([true, true, false, true, true]);
    expect(j.rejections.find((r) => r.index === 2)?.message).to.match(/left out by its head/);
    const checked = await judgeClusteredRound({ rules, models, spec, setup, seed: "ab", commits, records: [dropped], fetch, fullCheck: () => true, fetchAggregate: async () => kept.aggregate });
    expect(checked.accepted).to.deep.equal([false, true, true, true, true]);
  });
});

describe("clustered rounds: bytes a verifier could not fetch are no evidence against the head", () => {
  it("a full check with a member update unavailable here takes the record as it is (or sends all members flat without blame)", async () => {
    const { record, commits, updates, honest } = await fixture();
    const fetchMissing2 = async (idx: number[]) => idx.map((i) => (i === 2 ? { ...updates[i], weights: null, unusable: { code: "unavailable" as const, message: "timeout" } } : updates[i]));
    const base = { rules, models, spec, setup, seed: "ab", commits, records: [record], fetch: fetchMissing2 };
    const j = await judgeClusteredRound({ ...base, fetchAggregate: async () => honest.aggregate });
    expect(j.clusters[0]).to.include({ status: "ok", fullyChecked: false });
    expect(j.clusters[0].incomplete).to.match(/member\(s\) \[2\] could not be fetched here/);
    expect(j.accepted).to.deep.equal([true, true, true, true, true]);
    const k = await judgeClusteredRound({ ...base, fetchAggregate: async () => null });
    expect(k.clusters[0].status).to.equal("missing");
    expect(k.accepted[0]).to.equal(true); // the head is judged alone, not blamed
    expect(k.accepted[2]).to.equal(false); // the update nobody here could fetch
  });
});

describe("clustered rounds: where each peer stands", () => {
  it("places peers by the deployment's address list, not by registration order", async () => {
    const addr = (p: number) => `0x${String(p + 1).padStart(40, "0")}`;
    const scenarioFile = JSON.parse(readFileSync("examples/scenarios/d2d-5peers.json", "utf8"));
    // chain peer 3 stands at position 0 (the head's spot), chain peer 0 at position 3 (far away)
    const placed = clusterSetupFrom(clusterDeploymentJson(scenarioFile, [3, 1, 2, 0, 4].map(addr)), { maxClusterSize: 8, minHeadEnergy: 0.3 });
    const commits = [0, 1, 2, 3, 4].map((p) => ({ index: p, peerIndex: p, trainer: addr(p), cid: null as never, numSamples: 100 }));
    const c = roundClustering(placed, commits, "ab");
    expect(c.clusters.map((x) => [x.head, x.members.map((m) => m.peer)])).to.deep.equal([[3, [3, 1, 2, 4]]]);
    expect(c.unclustered).to.deep.equal([0]);
    expect(() => clusterSetupFrom(new TextEncoder().encode(JSON.stringify({ scenario: scenarioFile, peers: ["0x12"] })), { maxClusterSize: 8, minHeadEnergy: 0.3 })).to.throw(/array of 0x addresses/);
  });
});

describe("explorer: cluster report helpers", () => {
  it("splits link bytes into Uu and sidelink (relayed bytes count on both legs)", () => {
    const rows = linkBytesByMedium({ links: {
      peer1: { links: [{ role: "peer", mode: "direct", bytesUp: 100, bytesDown: 50 }, { role: "rpc", mode: "infrastructure", bytesUp: 10, bytesDown: 5 }] },
      peer0: { links: [{ role: "peer", mode: "relay", bytesUp: 7, bytesDown: 0 }] },
    } });
    expect(rows).to.deep.equal([{ peer: "peer0", uuBytes: 7, sidelinkBytes: 7 }, { peer: "peer1", uuBytes: 15, sidelinkBytes: 150 }]);
    expect(linkBytesByMedium(null)).to.deep.equal([]);
  });
  it("books a member's update on the sidelink and the head's aggregate on Uu", () => {
    const { peers } = roundEnergy(setup.devices, [{ peer: 0, samples: 100, updateBytes: 1e6 }, { peer: 1, samples: 100, updateBytes: 1e6 }, { peer: 3, samples: 100, updateBytes: 1e6 }], [{ head: 0, members: [0, 1], aggregateBytes: 1e6 }]);
    expect(peers.map((p) => p.role)).to.deep.equal(["head", "member", "lone"]);
    expect(peers[1].uuJ).to.equal(0);
    expect(peers[1].sidelinkJ).to.be.greaterThan(0);
    expect(peers[0].sidelinkJ).to.equal(0);
    expect(peers[0].uuJ).to.be.greaterThan(0);
    expect(peers[2].uuJ).to.be.greaterThan(0);
  });
});
