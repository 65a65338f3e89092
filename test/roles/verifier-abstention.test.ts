/**
 * Verification fairness on the real contract (in-process chain): a verifier that could fetch too
 * few of the round's updates abstains (commits no verdict, protocol/availability.ts) instead of
 * voting honest updates "unavailable". Checked from the attacker's side too:
 * - a withholding trainer (commits a CID nobody can fetch) is still rejected and penalized by the
 *   verifiers that could fetch;
 * - an abstaining verifier pays the missing-verdict penalty, so it cannot abstain for free;
 * - when every verifier is starved (the 50-peer bench:scale failure), the round fails, but no
 *   honest trainer loses reputation for it.
 */
import { expect } from "chai";
import type { Contract } from "ethers";
import { MemoryModelStore, MemoryStoreMissError } from "../../ipfs/memory-store.ts";
import type { TaskChain } from "../../node/chain/task-chain.ts";
import type { TaskConfig } from "../../node/protocol/task-config.ts";
import { createLogger } from "../../node/lib/log.ts";
import { modelSpecFor } from "../../node/ml/models.ts";
import { encodeUpdate, maskHas, Phase, updateCid } from "../../node/protocol/index.ts";
import { revealAggregator, runAggregator } from "../../node/roles/aggregator.ts";
import type { RoleContext } from "../../node/roles/context.ts";
import { modelFetcher } from "../../node/roles/models.ts";
import { RevealStore } from "../../node/roles/reveals.ts";
import { runTrainer } from "../../node/roles/trainer.ts";
import { revealVerifier, runVerifier, VerifierAbstainedError } from "../../node/roles/verifier.ts";
import type { GetOptions } from "../../ipfs/model-store.ts";
import { deployInProcessTask, driftLearner, type InProcessTask } from "./in-process-task.ts";

const spec = modelSpecFor("mlp");
const log = createLogger({ name: "abstention-test", level: "error", write: () => {} });
const D = spec.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
const PEERS = 5;
const UPDATE_REJECTED = 1;
const VERDICT_MISSING = 4;

/** A starved verifier's view of the swarm: it gets the global models, but no trainer's update ever arrives. */
class StarvedStore extends MemoryModelStore {
  constructor(private readonly inner: MemoryModelStore, private readonly reachable: Set<string>) { super("starved"); }
  override async get(cid: string, options: GetOptions = {}): Promise<Uint8Array> {
    if (!this.reachable.has(cid)) throw new MemoryStoreMissError(cid);
    return this.inner.get(cid, options);
  }
}

describe("verifier abstention (fairness under load) on an in-process chain", function () {
  this.timeout(120_000);
  let t: InProcessTask;
  let chains: TaskChain[];
  let store: MemoryModelStore;
  let task: TaskConfig;
  const pending = new RevealStore();

  const ctxFor = (i: number, starved = false, globals: string[] = []): RoleContext => {
    const s = starved ? new StarvedStore(store, new Set(globals)) : store;
    const learner = driftLearner(i, D, { samples: 100 });
    return {
      chain: chains[i], store: s, log, task, spec, dataIndex: i, numPeers: PEERS,
      models: modelFetcher({ store: s, spec, log }), learner: async () => learner, now: () => Date.now() / 1000,
    };
  };
  /** The round as seen with a verify window that ends in 7 s (the fetch budget then ends in ~2 s). */
  const shortly = async (r: number) => ({ ...(await chains[0].round(r)), phaseDeadline: Math.floor(Date.now() / 1000) + 7 });
  const globalsOf = async (r: number) => {
    const out: string[] = [];
    for (let k = 1; k <= r; k++) out.push((await chains[0].round(k)).globalModelCid!.toString());
    return out;
  };
  const reputation = async (i: number) => (await chains[0].peer(chains[i].account))!.reputation;
  const reasonsIn = async (round: number) => {
    const c = t.contract as Contract;
    const events = await c.queryFilter(c.filters.ReputationChanged(null, round));
    return events.map((e) => ({ peer: String((e as unknown as { args: unknown[] }).args[0]), reason: Number((e as unknown as { args: unknown[] }).args[4]) }));
  };
  const expire = async () => {
    await t.provider.send("evm_increaseTime", [601]);
    await t.provider.send("evm_mine", []);
  };

  before(async () => {
    store = new MemoryModelStore();
    t = await deployInProcessTask(store, spec, PEERS, { rounds: 2 });
    chains = await t.registerPeers(PEERS, log);
    await t.start();
    task = await chains[0].taskConfig();
  });

  after(() => { for (const c of chains ?? []) c.close(); });

  it("a starved verifier abstains; the withholder is still rejected by the verifiers that could fetch; abstaining costs the abstainer", async () => {
    let round = await chains[0].round(1);
    for (let i = 0; i < 4; i++) expect(await runTrainer(ctxFor(i), round, { dpRoundsSpent: 0, budgetExhaustedLogged: false })).to.equal(true);
    // Peer 4 withholds: it commits the CID of an update it never serves.
    const withheld = await updateCid(encodeUpdate(new Float32Array(D).fill(0.5), spec));
    await chains[4].commitUpdate(1, withheld, 100);
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.VerifyCommit);
    await chains[0].selectCommittees(1);
    const before = await Promise.all(Array.from({ length: PEERS }, (_, i) => reputation(i)));

    const globals = await globalsOf(1);
    const masks: bigint[] = [];
    for (let i = 0; i < 3; i++) masks.push(await runVerifier(ctxFor(i), await shortly(1), 300, pending));
    for (const i of [3, 4]) {
      let err: unknown;
      try { await runVerifier(ctxFor(i, true, globals), await shortly(1), 300, pending); } catch (e) { err = e; }
      expect(err, `starved verifier ${i}`).to.be.instanceOf(VerifierAbstainedError);
      expect((err as VerifierAbstainedError).health).to.include({ total: 5, fetched: 0, unavailable: 5, abstain: true });
      expect((await chains[i].verdictOf(1, chains[i].account)).committed, "an abstaining verifier commits nothing").to.equal(false);
    }
    const commits = await chains[0].commits(1, PEERS);
    const withholder = commits.find((c) => c.trainer === chains[4].account)!;
    for (const m of masks) {
      expect(maskHas(m, withholder.index), "the withholder is voted unavailable").to.equal(false);
      for (const c of commits) if (c !== withholder) expect(maskHas(m, c.index)).to.equal(true);
    }

    // The abstainers never commit: the window closes at its deadline.
    await expire();
    await chains[0].advancePhase(1);
    for (let i = 0; i < 3; i++) await revealVerifier(ctxFor(i), await chains[i].round(1), 5000, pending);
    round = await chains[0].round(1);
    expect(round.phase).to.equal(Phase.AggregateCommit);
    for (const c of commits) expect(maskHas(round.acceptedMask, c.index), `commit ${c.index} accepted`).to.equal(c !== withholder);

    const reasons = await reasonsIn(1);
    const of = (i: number) => reasons.filter((r) => r.peer === chains[i].account).map((r) => r.reason).sort();
    expect(of(4), "withholder: update rejected, and its own verdict missing").to.deep.equal([UPDATE_REJECTED, VERDICT_MISSING]);
    expect(of(3), "starved honest trainer: its update accepted, its missing verdict costs it").to.deep.equal([0, VERDICT_MISSING]);
    for (let i = 0; i < 3; i++) expect(of(i)).to.deep.equal([0, 2]);
    const after = await Promise.all(Array.from({ length: PEERS }, (_, i) => reputation(i)));
    expect(after[3]).to.be.lessThan(before[3]);
    expect(after[4]).to.be.lessThan(after[3]);

    // Finish the round so the next one starts.
    const cids = [];
    for (let i = 0; i < PEERS; i++) cids.push(await runAggregator(ctxFor(i), await chains[i].round(1), 5000, pending));
    expect(new Set(cids).size).to.equal(1);
    for (let i = 0; i < PEERS; i++) await revealAggregator(ctxFor(i), await chains[i].round(1), 5000, pending);
    expect((await chains[0].round(1)).phase).to.equal(Phase.Finalized);
  });

  it("every verifier starved (the 50-peer failure): the round fails, and no honest trainer is rejected or penalized for it", async () => {
    let round = await chains[0].round(2);
    expect(round.phase).to.equal(Phase.Training);
    for (let i = 0; i < PEERS; i++) await runTrainer(ctxFor(i), round, { dpRoundsSpent: 0, budgetExhaustedLogged: false });
    round = await chains[0].round(2);
    expect(round.phase).to.equal(Phase.VerifyCommit);
    await chains[0].selectCommittees(2);
    const globals = await globalsOf(2);
    for (let i = 0; i < PEERS; i++) {
      let err: unknown;
      try { await runVerifier(ctxFor(i, true, globals), await shortly(2), 300, pending); } catch (e) { err = e; }
      expect(err).to.be.instanceOf(VerifierAbstainedError);
    }
    await expire();
    await chains[0].advancePhase(2);
    round = await chains[0].round(2);
    expect(round.phase).to.equal(Phase.Failed);
    const reasons = await reasonsIn(2);
    expect(reasons.filter((r) => r.reason === UPDATE_REJECTED), "no trainer loses reputation for its update").to.deep.equal([]);
    expect(reasons.every((r) => r.reason === VERDICT_MISSING), "only the abstaining verifiers pay").to.equal(true);
    expect(reasons.length).to.equal(PEERS);
  });
});

