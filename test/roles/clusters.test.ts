/**
 * Clustered (D2D, hierarchical) rounds through the real roles on an in-process chain (Hardhat EDR,
 * the real FederatedTask and ClusterRounds side contract) with an in-memory store, over the
 * scenario examples/scenarios/d2d-5peers.json (peer 0 heads peers 1, 2, 4; peer 3 is alone):
 *   round 1 — honest: the head records its cluster aggregate, verifiers vote per commit on cluster
 *             aggregates and lone updates, the round finalizes, the audit reproduces both levels;
 *   round 2 — the head lies (3x its aggregate's delta): verifiers recompute its cluster from the
 *             members' CIDs, reject the head's own commit and judge its members alone; audit agrees;
 *   round 3 — the head crashes (records nothing): after the record window the members are judged
 *             alone (flat fallback) and the round finalizes.
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
import { clusterRoundsWriter, deployClusterRounds } from "../../node/roles/cluster-chain.ts";
import { clusterSetupFrom, runClusterHead, type ClusterRoleContext, type HeadAttack } from "../../node/roles/cluster-roles.ts";
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

describe("roles: clustered rounds with a ClusterRounds side contract (in-process chain)", function () {
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
  const ctxFor = async (i: number, headAttack?: HeadAttack): Promise<RoleContext> => {
    const learner = fakeLearner(i);
    const clusters: ClusterRoleContext = { chain: clusterRoundsWriter(clusterAddress, signers[i], log), setup, ...(headAttack ? { headAttack } : {}) };
    return {
      chain: chains[i], store, log, task: await chains[i].taskConfig(), spec, dataIndex: i, numPeers: PEERS,
      models: modelFetcher({ store, spec, log }), learner: async () => learner, now: () => Date.now() / 1000 + offset, clusters,
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

  /** Commit, (head records), verify, aggregate, finalize round `r`. */
  const runRound = async (r: number, o: { headAttack?: HeadAttack; headCrashes?: boolean }) => {
    for (let i = 0; i < PEERS; i++) expect(await runTrainer(await ctxFor(i), await chains[i].round(r), { dpRoundsSpent: 0, budgetExhaustedLogged: false })).to.equal(true);
    expect((await chains[0].round(r)).phase).to.equal(Phase.VerifyCommit);
    await chains[0].selectCommittees(r).catch(() => undefined);
    await syncClock();
    // before the head recorded, a verifier must wait (the committee would otherwise disagree)
    let pending: Error | null = null;
    try { await computeVerdict(await ctxFor(1), await chains[1].round(r), 5000); } catch (e) { pending = e as Error; }
    expect(pending?.name, pending?.stack).to.equal("ClusterRecordsPendingError");
    if (o.headCrashes) {
      await travel(301); // past the record window (first half of the 600 s verify-commit window)
    } else {
      for (let i = 1; i < PEERS; i++) expect(await runClusterHead(await ctxFor(i), await chains[i].round(r), 5000)).to.equal(false);
      expect(await runClusterHead(await ctxFor(0, o.headAttack), await chains[0].round(r), 5000)).to.equal(true);
    }
    const reveals = new RevealStore();
    for (let i = 0; i < PEERS; i++) await runVerifier(await ctxFor(i), await chains[i].round(r), 5000, reveals);
    for (let i = 0; i < PEERS; i++) await revealVerifier(await ctxFor(i), await chains[i].round(r), 5000, reveals);
    expect((await chains[0].round(r)).phase).to.equal(Phase.AggregateCommit);
    const cids = [];
    for (let i = 0; i < PEERS; i++) cids.push(await runAggregator(await ctxFor(i), await chains[i].round(r), 5000, reveals));
    expect(new Set(cids).size).to.equal(1);
    for (let i = 0; i < PEERS; i++) await revealAggregator(await ctxFor(i), await chains[i].round(r), 5000, reveals);
    const round = await chains[0].round(r);
    expect(round.phase).to.equal(Phase.Finalized);
    return round;
  };

  before(async () => {
    const t = await deployInProcessTask(store, spec, PEERS, { rounds: 3 });
    provider = t.provider;
    contract = t.contract;
    chains = await t.registerPeers(PEERS, log, { firstPort: 4201 });
    // each peer's own signer for the side contract (a NonceManager per account, as the agents have)
    signers = await Promise.all(chains.map(async (_, i) => (await t.connFor(i + 1)).signer as unknown as Signer));
    const scenarioCid = CID.parse(await store.put(readFileSync(SCENARIO)));
    clusterAddress = await deployClusterRounds(String(contract.target), { scenarioCid }, t.deployer, log);
    await t.start();
  });

  after(() => { for (const c of chains) c.close(); });

  it("an honest clustered round finalizes and the audit reproduces both levels", async () => {
    const round = await runRound(1, {});
    const rec = events.find((e) => e.event === "cluster-recorded");
    expect(rec?.fields).to.include({ round: 1, head: 0, members: "0,1,2,4", included: "0,1,2,4", samples: 4 * N });
    expect(round.acceptedMask).to.equal(0b11111n);
    const judged = events.find((e) => e.event === "clusters-judged" && e.fields.round === 1);
    expect(judged?.fields).to.include({ clusters: "0:[0,1,2,4]:ok", loneCommits: "3", inputs: 2 });
    const a = await audit(1);
    expect(a.differences).to.deep.equal([]);
    expect(a.ok).to.equal(true);
    expect(a.globalCidRecomputed).to.equal(round.finalCid?.toString());
    expect(a.clusters).to.have.length(1);
    expect(a.clusters[0]).to.include({ head: 0, status: "ok", acceptedSamples: 4 * N });
    expect(a.clusters[0].includedRecomputed).to.deep.equal([0, 1, 2, 4]);
    expect(a.clusters[0].aggregateCidRecomputed).to.equal(a.clusters[0].aggregateCidOnChain);
    expect(a.unclustered).to.deep.equal([3]);
  });

  it("a head that lies about its aggregate is caught: its own commit is rejected, its members are judged alone", async () => {
    const round = await runRound(2, { headAttack: "scale-aggregate" });
    expect(events.some((e) => e.event === "cluster-head-attack" && e.fields.round === 2)).to.equal(true);
    const caught = events.filter((e) => e.event === "cluster-head-caught" && e.fields.round === 2);
    expect(caught).to.have.length(PEERS); // every verifier
    expect(String(caught[0].fields.reason)).to.match(/aggregate .* is not the recomputed/);
    expect(round.acceptedMask).to.equal(0b11110n); // the head's commit (0) rejected, members 1, 2, 4 and lone 3 accepted
    const a = await audit(2);
    expect(a.differences).to.deep.equal([]);
    expect(a.ok).to.equal(true);
    expect(a.clusters[0]).to.include({ head: 0, status: "invalid" });
    expect(a.clusters[0].aggregateCidOnChain).to.not.equal(a.clusters[0].aggregateCidRecomputed);
  });

  it("a head that crashes before recording: after the record window its members take the flat path", async () => {
    const round = await runRound(3, { headCrashes: true });
    expect(events.some((e) => e.event === "cluster-head-missing" && e.fields.round === 3)).to.equal(true);
    expect(round.acceptedMask).to.equal(0b11111n);
    const a = await audit(3);
    expect(a.differences).to.deep.equal([]);
    expect(a.clusters[0]).to.include({ head: 0, status: "missing" });
    // and the contract refuses a record after the window
    let refused: Error | null = null;
    try { await clusterRoundsWriter(clusterAddress, signers[0], log).recordCluster(3, 0b10111n, 0b10111n, null); } catch (e) { refused = e as Error; }
    expect(String((refused as { errorName?: string } | null)?.errorName ?? refused?.message)).to.match(/WrongPhase|RecordWindowClosed/);
  });

  it("the explorer's clusters report shows heads, records, lone peers and energy per round from chain + IPFS", async () => {
    const ctx = {
      client: { getProvider: async () => provider }, iface: contract.interface, contractAddress: String(contract.target),
      content: { get: (cid: string) => store.get(cid, { timeoutMs: 1000 }), sizes: new Map<string, number>() }, cidTimeoutMs: 1000,
    } as unknown as ExplorerContext;
    const report = (await new ClustersService(ctx, clusterAddress).report())!;
    expect(report.scenarioName).to.equal("d2d-5peers-one-cluster");
    expect(report.rounds.map((r) => r.round)).to.deep.equal([1, 2, 3]);
    const [r1, r2, r3] = report.rounds;
    expect(r1.clusters).to.have.length(1);
    expect(r1.clusters[0]).to.include({ head: 0, recorded: true, membersMatch: true, acceptedSamples: 4 * N });
    expect(r1.lone).to.deep.equal([3]);
    expect(r1.energy.map((e) => e.role)).to.deep.equal(["head", "member", "member", "lone", "member"]);
    expect(r1.energyComplete).to.equal(true);
    expect(r1.energy[1].uuJ).to.equal(0);
    expect(r1.energy[1].sidelinkJ).to.be.greaterThan(0);
    expect(r2.clusters[0].recorded).to.equal(true); // the lying head recorded (the audit says it lied)
    expect(r3.clusters[0].recorded).to.equal(false);
    expect(r3.lone).to.deep.equal([0, 1, 2, 3, 4]);
    const page = clustersPage({ chain: {}, index: {}, ipfs: {}, contractAddress: null } as never, report);
    expect(page).to.include("chart-energy").and.include("missing: members went flat").and.include("peer0");
  });
});
