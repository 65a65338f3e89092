/**
 * Clustered (D2D, hierarchical) rounds through the real roles on an in-process chain (Hardhat EDR,
 * the real FederatedTask and ClusterRounds side contract, one checker per cluster) with an in-memory
 * store, over the scenario examples/scenarios/d2d-5peers.json (peer 0 heads peers 1, 2, 4; peer 3 is
 * alone, so the check seed always draws peer 3, the one committee verifier outside the cluster):
 *   round 1 — honest: the head records its cluster aggregate; after the record window the check seed
 *             is drawn, only peer 3 downloads the members' updates, the others only the aggregate;
 *             the round finalizes and the audit reproduces both levels, showing seed and checker;
 *   round 2 — the head lies (3x its aggregate's delta): peer 3 alone checks, catches and challenges
 *             it; then every verifier checks that cluster in full, rejects the head's own commit and
 *             judges its members alone; the audit marks the challenge justified;
 *   round 3 — a false challenge of an honest head by a member: every verifier checks in full, finds
 *             the record right, and nobody loses anything; the audit marks it unjustified;
 *   round 4 — the head crashes (records nothing): after the record window the members are judged
 *             alone (flat fallback) and the round finalizes;
 *   round 5 — the head lies and its only checker stays silent: the lie goes through (the limit of
 *             sampling with one checker), and the audit reports it as an uncaught lie.
 * Those five run with k = 0 inside checkers and p = 100 % (peer 3 checks every cluster). A second suite
 * runs k = 1, p = 100 % (one member of the cluster, drawn by the seed, checks too):
 *   round 1 — the head lies and its inside checker colludes (stays silent): the outsider catches it;
 *   round 2 — the head leaves a member out of its record: not blamed, the member is judged alone and accepted.
 */
import { readFileSync } from "node:fs";
import { expect } from "chai";
import type { BrowserProvider, Contract, Signer } from "ethers";
import { CID } from "multiformats/cid";
import { auditRound } from "../../explorer/audit.ts";
import { auditIO, contractAuditChain } from "../../explorer/audit-io.ts";
import { clusterAuditIO, type ClusteredAuditResult } from "../../explorer/audit-clusters.ts";
import { MemoryModelStore } from "../../ipfs/memory-store.ts";
import type { TaskChain } from "../../node/chain/task-chain.ts";
import { createLogger } from "../../node/lib/log.ts";
import type { Learner } from "../../node/ml/learner.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { deriveSeed, mulberry32 } from "../../node/ml/random.ts";
import { Phase } from "../../node/protocol/ids.ts";
import { revealAggregator, runAggregator } from "../../node/roles/aggregator.ts";
import { bitsOf, clusterRoundsWriter, deployClusterRounds } from "../../node/roles/cluster-chain.ts";
import { clusterCheckers } from "../../node/protocol/cluster-round.ts";
import { clusterSetupFrom, runClusterHead, type ClusterRoleContext, type HeadAttack } from "../../node/roles/cluster-roles.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import type { RoleContext } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { RevealStore } from "../../node/roles/reveals.ts";
import { runTrainer } from "../../node/roles/trainer.ts";
import { computeVerdict, revealVerifier, runVerifier } from "../../node/roles/verifier.ts";
import { deployInProcessTask } from "./in-process-task.ts";
import { ClustersService } from "../../explorer/services/clusters.ts";
import type { ExplorerContext } from "../../explorer/services/context.ts";
import { clustersPage } from "../../explorer/views/clusters.ts";

const spec = modelSpecFor("mlp");
const N = 100;
const PEERS = 5;
const SCENARIO = "examples/scenarios/d2d-5peers.json";

function fakeLearner(peer: number): Learner {
  return {
    backend: "none", trainSamples: N, validationSamples: 10,
    async train(global, opts) {
      const rng = mulberry32(deriveSeed(peer, opts.round));
      return { weights: Float32Array.from(global, (g) => g + 0.002 + (rng() - 0.5) * 0.01), samples: N, seconds: 0, loss: 0 };
    },
    async evaluate() { return { accuracy: 0.5, loss: 1 }; },
    dispose() {},
  };
}

/** k = 0, p = 100 %: peer 3 (the only outsider) checks every round — the first suite; k = 1, p = 100 %: a member checks too — the second. */
const POLICIES = [{ insideCheckers: 0, outsideCheckBps: 10000 }, { insideCheckers: 1, outsideCheckBps: 10000 }] as const;

for (const policy of POLICIES) describe(`roles: clustered rounds with a ClusterRounds side contract (in-process chain), k = ${policy.insideCheckers}, p = ${policy.outsideCheckBps / 100} %`, function () {
  this.timeout(180_000);
  let provider: BrowserProvider;
  let contract: Contract;
  let chains: TaskChain[] = [];
  let clusterAddress = "";
  let signers: Signer[] = [];
  let offset = 0; // chain time ahead of the wall clock after evm_increaseTime
  const store = new MemoryModelStore();
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const log = createLogger({ name: "clusters-test", format: "json", level: "info", write: (line) => { const j = JSON.parse(line); events.push({ event: j.event, fields: j }); } });
  const setup = clusterSetupFrom(readFileSync(SCENARIO), { maxClusterSize: 8, minHeadEnergy: 0.3 });
  /** CIDs each peer fetched (its own view of the shared in-memory store). */
  const fetched: Set<string>[] = Array.from({ length: PEERS }, () => new Set<string>());
  const storeOf = (i: number): ModelStore => new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "get") return (cid: string, o?: object) => { fetched[i].add(cid); return target.get(cid, o); };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as unknown as ModelStore;
  const ctxFor = async (i: number, headAttack?: HeadAttack): Promise<RoleContext> => {
    const learner = fakeLearner(i);
    const clusters: ClusterRoleContext = { chain: clusterRoundsWriter(clusterAddress, signers[i], log), setup, ...(headAttack ? { headAttack } : {}) };
    const peerStore = storeOf(i);
    return {
      chain: chains[i], store: peerStore, log, task: await chains[i].taskConfig(), spec, dataIndex: i, numPeers: PEERS,
      models: modelFetcher({ store: peerStore, spec, log }), learner: async () => learner, now: () => Date.now() / 1000 + offset, clusters,
    };
  };
  const travel = async (s: number) => {
    await provider.send("evm_increaseTime", [s]);
    await provider.send("evm_mine", []);
    await syncClock();
  };
  /** The roles compare deadlines with ctx.now(): follow the chain's clock (blocks mined faster than 1/s run ahead). */
  const syncClock = async () => {
    const latest = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
    offset = Number(BigInt(latest.timestamp)) - Date.now() / 1000;
  };
  const audit = async (round: number) => {
    const taskAddress = String(contract.target);
    const io = {
      ...auditIO(contractAuditChain(taskAddress, contract.interface, provider), (cid) => store.get(cid, { timeoutMs: 1000 })),
      clusters: clusterAuditIO(clusterAddress, taskAddress, provider, async (a) => Number((await contract.getFunction("getPeer")(a)).peerIndex)),
    };
    return (await auditRound(round, io)) as ClusteredAuditResult;
  };

  /** A verifier's calls until it has drawn/read the check seed and done its assigned checks (it then waits for the challenge window). */
  const checkAssigned = async (i: number, r: number) => {
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        await computeVerdict(await ctxFor(i), await chains[i].round(r), 5000);
        throw new Error("a verifier voted inside the challenge window");
      } catch (e) {
        if ((e as Error).name !== "ClusterRecordsPendingError") throw e;
        if (/checked|checks done/.test((e as Error).message)) return;
        // (ethers answers an identical call within 250 ms from its cache: let it expire, as the agent's 1 s retry does)
        await new Promise((res) => setTimeout(res, 300));
      }
    }
    throw new Error(`verifier ${i} never finished its checks in round ${r}`);
  };

  /** Commit, (head records), sampled checks and challenges, verify, aggregate, finalize round `r`. */
  /** The checkers the on-chain check seed drew for head 0's cluster {0, 1, 2, 4} in round `r`. */
  const drawnCheckers = async (r: number): Promise<number[]> => {
    const { seed } = await clusterRoundsWriter(clusterAddress, signers[0], log).checkSeed(r);
    const committee = bitsOf((await chains[0].committees(r)).verifiers);
    const clustering = { clusters: [{ head: 0, members: [0, 1, 2, 4].map((peer) => ({ peer, mode: "direct" as const })) }] };
    return clusterCheckers(seed!, clustering as never, committee, policy).get(0)!;
  };

  /** `silent`: peers that skip their checks (a checker colluding with the head), given the drawn checkers. */
  const runRound = async (r: number, o: { headAttack?: HeadAttack; headCrashes?: boolean; falseChallengeBy?: number; silent?: (checkers: number[]) => number[] }) => {
    for (const f of fetched) f.clear();
    for (let i = 0; i < PEERS; i++) expect(await runTrainer(await ctxFor(i), await chains[i].round(r), { dpRoundsSpent: 0, budgetExhaustedLogged: false })).to.equal(true);
    expect((await chains[0].round(r)).phase).to.equal(Phase.VerifyCommit);
    await chains[0].selectCommittees(r).catch(() => undefined);
    await syncClock();
    // before the record window closed, a verifier must wait (heads may still record; no check seed yet)
    let pending: Error | null = null;
    try { await computeVerdict(await ctxFor(1), await chains[1].round(r), 5000); } catch (e) { pending = e as Error; }
    expect(pending?.name, pending?.stack).to.equal("ClusterRecordsPendingError");
    if (!o.headCrashes) {
      for (let i = 1; i < PEERS; i++) expect(await runClusterHead(await ctxFor(i), await chains[i].round(r), 5000)).to.equal(false);
      expect(await runClusterHead(await ctxFor(0, o.headAttack), await chains[0].round(r), 5000)).to.equal(true);
    }
    // a head cannot pick its checkers: the seed does not exist while records are open ...
    const headWriter = clusterRoundsWriter(clusterAddress, signers[0], log);
    const early = await headWriter.drawCheckSeed(r).then(() => null, (e: Error & { errorName?: string }) => e.errorName);
    expect(early).to.equal("CheckSeedTooEarly");
    await travel(241); // past the record window (first 40 % of the 600 s verify-commit window)
    // ... and once it can exist, no record can be made or redone
    const late = await headWriter.recordCluster(r, 0b10111n, 0b10111n, null).then(() => null, (e: Error & { errorName?: string }) => e.errorName);
    expect(late).to.equal("RecordWindowClosed");
    // peer 3 (the drawn checker) last: the members' downloads before it are what sampling saves
    await checkAssigned(0, r); // the head: draws the seed (never its own checker)
    const silent = o.silent ? o.silent(await drawnCheckers(r)) : [];
    for (const i of [1, 2, 4, 3]) if (!silent.includes(i)) await checkAssigned(i, r);
    if (o.falseChallengeBy !== undefined) await clusterRoundsWriter(clusterAddress, signers[o.falseChallengeBy], log).challengeCluster(r, 0);
    const fetchedInChecks = fetched.map((f) => new Set(f));
    await travel(181); // past the challenge window (the next 30 %)
    const reveals = Array.from({ length: PEERS }, () => new RevealStore()); // each peer keeps its own
    for (let i = 0; i < PEERS; i++) await runVerifier(await ctxFor(i), await chains[i].round(r), 5000, reveals[i]);
    for (let i = 0; i < PEERS; i++) await revealVerifier(await ctxFor(i), await chains[i].round(r), 5000, reveals[i]);
    expect((await chains[0].round(r)).phase).to.equal(Phase.AggregateCommit);
    const cids = [];
    for (let i = 0; i < PEERS; i++) cids.push(await runAggregator(await ctxFor(i), await chains[i].round(r), 5000, reveals[i]));
    expect(new Set(cids).size).to.equal(1);
    for (let i = 0; i < PEERS; i++) await revealAggregator(await ctxFor(i), await chains[i].round(r), 5000, reveals[i]);
    const round = await chains[0].round(r);
    expect(round.phase).to.equal(Phase.Finalized);
    const commits = await chains[0].commits(r, round.commitCount);
    const cidOf = (peer: number) => commits.find((c) => c.trainer.toLowerCase() === chains[peer].account.toLowerCase())!.cid.toString();
    return { round, fetchedInChecks, cidOf };
  };

  before(async () => {
    const t = await deployInProcessTask(store, spec, PEERS, { rounds: 5 });
    provider = t.provider;
    contract = t.contract;
    chains = await t.registerPeers(PEERS, log, { firstPort: 4201 });
    // each peer's own signer for the side contract (a NonceManager per account, as the agents have)
    signers = await Promise.all(chains.map(async (_, i) => (await t.connFor(i + 1)).signer as unknown as Signer));
    const scenarioCid = CID.parse(await store.put(readFileSync(SCENARIO)));
    clusterAddress = await deployClusterRounds(String(contract.target), { scenarioCid, ...policy }, t.deployer, log);
    await t.start();
  });

  after(() => { for (const c of chains) c.close(); });

  /** A test of the suite with k = `k` inside checkers only. */
  const itWith = (k: number, title: string, fn: () => Promise<void>) => { if (policy.insideCheckers === k) it(title, fn); };

  itWith(0, "an honest clustered round: only the drawn checker downloads the members' updates; the audit reproduces both levels", async () => {
    const { round, fetchedInChecks, cidOf } = await runRound(1, {});
    const rec = events.find((e) => e.event === "cluster-recorded");
    expect(rec?.fields).to.include({ round: 1, head: 0, members: "0,1,2,4", included: "0,1,2,4", samples: 4 * N });
    expect(round.acceptedMask).to.equal(0b11111n);
    const seed = events.find((e) => e.event === "check-seed" && e.fields.round === 1);
    expect(Number(seed?.fields.seedBlock)).to.be.greaterThan(0);
    // the seed took two transactions (fix the block, then draw from the next one)
    expect(events.filter((e) => e.event === "check-seed-sent" && e.fields.round === 1).map((e) => e.fields.step)).to.deep.equal(["fix-block", "draw"]);
    const judged = events.filter((e) => e.event === "clusters-judged" && e.fields.round === 1);
    expect(judged.map((e) => e.fields.clusters)).to.deep.equal(["0:[0,1,2,4]:ok", "0:[0,1,2,4]:ok", "0:[0,1,2,4]:ok", "0:[0,1,2,4]:ok:checked", "0:[0,1,2,4]:ok"]);
    expect(judged[3].fields).to.include({ assigned: "0", loneCommits: "3", inputs: 2 });
    expect(events.filter((e) => e.event === "cluster-checked" && e.fields.round === 1)).to.have.length(1);
    const memberCids = [0, 1, 2, 4].map(cidOf);
    const aggregate = String(rec!.fields.cid);
    // peer 3 (the drawn checker) fetched every member update; members 1, 2, 4 none but their own
    // (they did not check: the aggregate is all they fetched of the cluster) — in checks and votes alike
    expect(memberCids.every((c) => fetchedInChecks[3].has(c))).to.equal(true);
    for (const p of [1, 2, 4]) {
      expect(memberCids.filter((c) => c !== cidOf(p) && fetched[p].has(c)), `peer ${p}`).to.deep.equal([]);
      expect(fetched[p].has(aggregate), `peer ${p} fetched the cluster aggregate`).to.equal(true);
      expect(fetched[p].has(cidOf(3)), `peer ${p} fetched the lone update`).to.equal(true);
    }
    const a = await audit(1);
    expect(a.differences).to.deep.equal([]);
    expect(a.ok).to.equal(true);
    expect(a.globalCidRecomputed).to.equal(round.finalCid?.toString());
    expect(a.clusters).to.have.length(1);
    expect(a.clusters[0]).to.include({ head: 0, status: "ok", acceptedSamples: 4 * N, challengedBy: null, challenge: null });
    expect(a.clusters[0].checkers).to.deep.equal([3]);
    expect(a.checkSeed).to.match(/^0x[0-9a-f]{64}$/);
    expect(a.uncaughtLies).to.deep.equal([]);
    expect(a.clusters[0].includedRecomputed).to.deep.equal([0, 1, 2, 4]);
    expect(a.clusters[0].aggregateCidRecomputed).to.equal(a.clusters[0].aggregateCidOnChain);
    expect(a.unclustered).to.deep.equal([3]);
  });

  itWith(0, "a lying head checked by one honest verifier is caught although the others did not check: the challenge makes everyone check", async () => {
    const { round, fetchedInChecks, cidOf } = await runRound(2, { headAttack: "scale-aggregate" });
    expect(events.some((e) => e.event === "cluster-head-attack" && e.fields.round === 2)).to.equal(true);
    const challenged = events.filter((e) => e.event === "cluster-challenged" && e.fields.round === 2);
    expect(challenged).to.have.length(1); // peer 3, the only checker
    expect(String(challenged[0].fields.reason)).to.match(/aggregate .* is not the recomputed/);
    // before the challenge window closed, the members had not downloaded each other's updates
    for (const p of [1, 2, 4]) expect([0, 1, 2, 4].map(cidOf).filter((c) => c !== cidOf(p) && fetchedInChecks[p].has(c))).to.deep.equal([]);
    const caught = events.filter((e) => e.event === "cluster-head-caught" && e.fields.round === 2);
    expect(caught).to.have.length(PEERS); // every verifier, after the challenge
    expect(round.acceptedMask).to.equal(0b11110n); // the head's commit (0) rejected, members 1, 2, 4 and lone 3 accepted
    const a = await audit(2);
    expect(a.differences).to.deep.equal([]);
    expect(a.ok).to.equal(true);
    expect(a.clusters[0]).to.include({ head: 0, status: "invalid", challenge: "justified", challengedBy: chains[3].account });
    expect(a.clusters[0].aggregateCidOnChain).to.not.equal(a.clusters[0].aggregateCidRecomputed);
  });

  itWith(0, "a false challenge of an honest head costs bandwidth only: honest head and members are accepted, the audit marks it unjustified", async () => {
    const { round } = await runRound(3, { falseChallengeBy: 1 });
    expect(round.acceptedMask).to.equal(0b11111n);
    const judged = events.filter((e) => e.event === "clusters-judged" && e.fields.round === 3);
    expect(judged.map((e) => e.fields.clusters)).to.deep.equal(Array(PEERS).fill("0:[0,1,2,4]:ok:checked"));
    const a = await audit(3);
    expect(a.differences).to.deep.equal([]);
    expect(a.clusters[0]).to.include({ head: 0, status: "ok", challenge: "unjustified", challengedBy: chains[1].account });
  });

  itWith(0, "a head that crashes before recording: after the record window its members take the flat path", async () => {
    const { round } = await runRound(4, { headCrashes: true });
    expect(events.some((e) => e.event === "cluster-head-missing" && e.fields.round === 4)).to.equal(true);
    expect(round.acceptedMask).to.equal(0b11111n);
    const a = await audit(4);
    expect(a.differences).to.deep.equal([]);
    expect(a.clusters[0]).to.include({ head: 0, status: "missing" });
    // and the contract refuses a record after the window
    let refused: Error | null = null;
    try { await clusterRoundsWriter(clusterAddress, signers[0], log).recordCluster(4, 0b10111n, 0b10111n, null); } catch (e) { refused = e as Error; }
    expect(String((refused as { errorName?: string } | null)?.errorName ?? refused?.message)).to.match(/WrongRound|WrongPhase|RecordWindowClosed/);
  });

  itWith(0, "a lying head whose only checker stays silent gets through, and the audit reports the uncaught lie", async () => {
    const { round } = await runRound(5, { headAttack: "drop-member", silent: () => [3] });
    // peer 3 checked only when it voted (after the challenge window): it alone rejects the head
    expect(events.filter((e) => e.event === "cluster-head-caught" && e.fields.round === 5)).to.have.length(1);
    expect(round.acceptedMask & 1n).to.equal(1n); // the head's commit accepted by the majority
    const a = await audit(5);
    expect(a.ok).to.equal(false);
    expect(a.uncaughtLies).to.deep.equal([0]);
    expect(a.differences.join("\n")).to.match(/head peer0 lied .* none of its checkers \[3\] challenged it/);
  });

  itWith(0, "the explorer's clusters report shows heads, records, lone peers and energy per round from chain + IPFS", async () => {
    const ctx = {
      client: { getProvider: async () => provider }, iface: contract.interface, contractAddress: String(contract.target),
      content: { get: (cid: string) => store.get(cid, { timeoutMs: 1000 }), sizes: new Map<string, number>() }, cidTimeoutMs: 1000,
    } as unknown as ExplorerContext;
    const report = (await new ClustersService(ctx, clusterAddress).report())!;
    expect(report.scenarioName).to.equal("d2d-5peers-one-cluster");
    expect(report.rounds.map((r) => r.round)).to.deep.equal([1, 2, 3, 4, 5]);
    const [r1, r2, , r4] = report.rounds;
    expect(r1.clusters).to.have.length(1);
    expect(r1.clusters[0]).to.include({ head: 0, recorded: true, membersMatch: true, acceptedSamples: 4 * N });
    expect(r1.lone).to.deep.equal([3]);
    expect(r1.energy.map((e) => e.role)).to.deep.equal(["head", "member", "member", "lone", "member"]);
    expect(r1.energyComplete).to.equal(true);
    expect(r1.energy[1].uuJ).to.equal(0);
    expect(r1.energy[1].sidelinkJ).to.be.greaterThan(0);
    expect(r2.clusters[0].recorded).to.equal(true); // the lying head recorded (the audit says it lied)
    expect(r2.clusters[0].challengedBy).to.equal(chains[3].account); // its drawn checker challenged it
    expect(r1.clusters[0].challengedBy).to.equal(null);
    expect(r1.checkSeed).to.match(/^0x[0-9a-f]{64}$/);
    expect(r4.clusters[0].recorded).to.equal(false);
    expect(r4.lone).to.deep.equal([0, 1, 2, 3, 4]);
    const page = clustersPage({ chain: {}, index: {}, ipfs: {}, contractAddress: null } as never, report);
    expect(page).to.include("chart-energy").and.include("missing: members went flat").and.include("peer0").and.include("challenged: checked by every verifier");
  });
  itWith(1, "a lying head whose inside checker colludes (stays silent) is caught by the sampled outside checker; the audit shows both checkers", async () => {
    let checkers: number[] = [];
    const { round, fetchedInChecks, cidOf } = await runRound(1, { headAttack: "scale-aggregate", silent: (cs) => { checkers = cs; return cs.filter((v) => v !== 3); } });
    expect(checkers).to.have.length(2);
    const inside = checkers[0];
    expect([1, 2, 4]).to.include(inside); // one member of the cluster, drawn by the seed
    expect(checkers[1]).to.equal(3); // the outsider (p = 100 %)
    const challenged = events.filter((e) => e.event === "cluster-challenged" && e.fields.round === 1);
    expect(challenged).to.have.length(1); // the outsider alone: the inside checker colluded
    expect(String(challenged[0].fields.reason)).to.match(/aggregate .* is not the recomputed/);
    expect([0, 1, 2, 4].map(cidOf).every((c) => fetchedInChecks[3].has(c))).to.equal(true);
    expect(round.acceptedMask).to.equal(0b11110n); // the head's commit rejected, everyone else accepted
    const a = await audit(1);
    expect(a.differences).to.deep.equal([]);
    expect(a.ok).to.equal(true);
    expect(a.clusters[0]).to.include({ head: 0, status: "invalid", challenge: "justified", challengedBy: chains[3].account });
    expect(a.clusters[0].checkers).to.deep.equal(checkers);
  });

  itWith(1, "an honest head that leaves a member out of its record is not blamed and the member is not hurt: it is judged alone; the inside checker checks over the sidelink", async () => {
    const { round, fetchedInChecks, cidOf } = await runRound(2, { headAttack: "leave-out-member" });
    const attack = events.find((e) => e.event === "cluster-head-attack" && e.fields.round === 2);
    const victim = Number(attack?.fields.leftOut);
    expect([1, 2, 4]).to.include(victim);
    const rec = events.find((e) => e.event === "cluster-recorded" && e.fields.round === 2);
    expect(rec?.fields).to.include({ leftOut: String(victim), members: [0, 1, 2, 4].filter((p) => p !== victim).join(",") });
    expect(events.filter((e) => e.event === "cluster-challenged" && e.fields.round === 2)).to.deep.equal([]);
    expect(events.filter((e) => e.event === "cluster-checked" && e.fields.round === 2)).to.have.length(2); // the member and the outsider
    expect(round.acceptedMask).to.equal(0b11111n); // head and the left-out member both accepted
    // every verifier fetched the left-out member's update itself (it is judged like a lone peer)
    for (const p of [0, 1, 2, 3, 4]) if (p !== victim) expect(fetched[p].has(cidOf(victim)), `peer ${p}`).to.equal(true);
    const checkers = await drawnCheckers(2);
    expect([0, 1, 2, 4].filter((p) => p !== victim).map(cidOf).every((c) => fetchedInChecks[checkers[0]].has(c))).to.equal(true);
    const a = await audit(2);
    expect(a.differences).to.deep.equal([]);
    expect(a.ok).to.equal(true);
    expect(a.clusters[0]).to.include({ head: 0, status: "ok", challenge: null });
    expect(a.clusters[0].leftOut).to.deep.equal([victim]);
    expect(a.uncaughtLies).to.deep.equal([]);
    // the explorer's Clusters page: the record is valid, the left-out member went over Uu alone
    const ctx = {
      client: { getProvider: async () => provider }, iface: contract.interface, contractAddress: String(contract.target),
      content: { get: (cid: string) => store.get(cid, { timeoutMs: 1000 }), sizes: new Map<string, number>() }, cidTimeoutMs: 1000,
    } as unknown as ExplorerContext;
    const report = (await new ClustersService(ctx, clusterAddress).report())!;
    const r2 = report.rounds.find((x) => x.round === 2)!;
    expect(r2.clusters[0]).to.include({ recorded: true, membersMatch: true });
    expect(r2.clusters[0].leftOut).to.deep.equal([victim]);
    expect(r2.lone).to.deep.equal([3, victim].sort((x, y) => x - y));
    expect(clustersPage({ chain: {}, index: {}, ipfs: {}, contractAddress: null } as never, report)).to.include("left out (judged alone)");
  });
});
