/**
 * Verification fairness: an update a loaded verifier could not fetch at once must not be judged
 * "unavailable" while the verify-commit window still has time. The fetch deadline is sized from the
 * window's end minus the time to judge and commit; what did not come is retried (re-dialing) until
 * then; one slow CID never holds the others back; content that is bad is rejected at once; and a
 * cheater whose CID is never served costs the verifier the window, not a wrong verdict on others.
 */
import { expect } from "chai";
import { CID } from "multiformats/cid";
import { MemoryModelStore, MemoryStoreMissError } from "../../ipfs/memory-store.ts";
import { createLogger } from "../../node/lib/log.ts";
import { flattenWeights } from "../../node/ml/codec.ts";
import { initialWeights, modelSpecFor } from "../../node/ml/models.ts";
import { encodeUpdate } from "../../node/protocol/index.ts";
import { ModelFetchError, modelFetcher } from "../../node/roles/models.ts";
import { judgeAndCommitReserveMs, phaseBudget } from "../../node/roles/round-inputs.ts";

const spec = modelSpecFor("mlp");
const log = createLogger({ name: "fetch-deadline-test", level: "error", write: () => {} });
const global = flattenWeights(initialWeights(spec, 7));
const update = (k: number) => encodeUpdate(Float32Array.from(global, (g, i) => g + ((i + k) % 7) * 1e-3), spec);

/** A store whose listed CIDs fail (like a bitswap want that times out) until `readyAt`, or for good. */
class SlowStore extends MemoryModelStore {
  readonly attempts = new Map<string, number>();
  constructor(private readonly readyAt: Map<string, number>) { super("slow"); }
  override async get(cid: string, options: Parameters<MemoryModelStore["get"]>[1] = {}): Promise<Uint8Array> {
    this.attempts.set(cid, (this.attempts.get(cid) ?? 0) + 1);
    const at = this.readyAt.get(cid);
    if (at !== undefined && Date.now() < at) {
      // A loaded provider: the attempt runs its whole time limit (up to the time the bytes come), then fails.
      await new Promise((r) => setTimeout(r, Math.min(options.timeoutMs ?? 30_000, Math.max(0, at - Date.now()) + 5)));
      if (Date.now() < at) throw new MemoryStoreMissError(cid);
    }
    return super.get(cid, options);
  }
}

describe("verifier fetch deadline (fairness under load)", function () {
  this.timeout(30_000);

  it("reserves time to judge and commit: 5 s + 100 ms per update, at most 20 s and a third of the window", () => {
    expect(judgeAndCommitReserveMs(0, 180)).to.equal(5000);
    expect(judgeAndCommitReserveMs(49, 180)).to.equal(9900);
    expect(judgeAndCommitReserveMs(500, 180)).to.equal(20_000);
    expect(judgeAndCommitReserveMs(10, 9)).to.equal(3000);
  });

  it("fetches until the window's end minus the reserve, whatever the per-attempt timeout", () => {
    const now = 1_000_000;
    const b = phaseBudget({ now: () => now }, { phaseDeadline: now + 180 }, 180, 20_000, 49);
    expect(b.timeoutMs).to.equal(20_000);
    expect(b.deadlineMs).to.equal((now + 180) * 1000 - 9900);
    // A window already (nearly) over still gets 2 s, never a deadline in the past.
    const late = phaseBudget({ now: () => now }, { phaseDeadline: now + 1 }, 180, 20_000, 49);
    expect(late.deadlineMs).to.equal(now * 1000 + 2000);
  });

  it("accepts an update whose bytes come late but inside the window (the old single retry rejected it)", async () => {
    const fast = new MemoryModelStore();
    const readyAt = new Map<string, number>();
    const store = new SlowStore(readyAt);
    const cids: CID[] = [];
    for (let k = 0; k < 4; k++) cids.push(CID.parse(await store.put(update(k))));
    await fast.put(update(0));
    // Update 1 becomes fetchable only after 1.5 s (three 400 ms attempts fail first).
    readyAt.set(cids[1].toString(), Date.now() + 1500);
    let redials = 0;
    const models = modelFetcher({ store, spec, log, concurrency: 2, onMiss: async () => { redials++; } });
    const out = await models.getAll(cids, { timeoutMs: 400, deadlineMs: Date.now() + 6000 });
    for (const r of out) expect(r).to.be.instanceOf(Float32Array);
    expect(store.attempts.get(cids[1].toString())).to.be.greaterThan(1);
    expect(redials, "peers are re-dialed before retrying").to.be.greaterThan(0);
  });

  it("judges 'unavailable' only at the deadline, and a never-served CID does not hold the others back", async () => {
    const readyAt = new Map<string, number>();
    const store = new SlowStore(readyAt);
    const cids: CID[] = [];
    for (let k = 0; k < 5; k++) cids.push(CID.parse(await store.put(update(k))));
    readyAt.set(cids[0].toString(), Number.POSITIVE_INFINITY); // the cheater: committed, never served
    const models = modelFetcher({ store, spec, log, concurrency: 1 });
    const started = Date.now();
    const deadlineMs = started + 2500;
    const out = await models.getAll(cids, { timeoutMs: 600, deadlineMs });
    const err = out[0] as ModelFetchError;
    expect(err).to.be.instanceOf(ModelFetchError);
    expect(err.code).to.equal("unavailable");
    expect(Date.now(), "gave up no earlier than the deadline allows").to.be.greaterThan(deadlineMs - 600);
    for (const r of out.slice(1)) expect(r).to.be.instanceOf(Float32Array);
    // Each honest CID was fetched once, in the first pass, although the cheater's came first.
    for (const c of cids.slice(1)) expect(store.attempts.get(c.toString())).to.equal(1);
    expect(store.attempts.get(cids[0].toString())).to.be.greaterThan(1);
  });

  it("rejects bytes that do not decode at once (no retries), with their reason", async () => {
    const store = new SlowStore(new Map());
    const bad = CID.parse(await store.put(new TextEncoder().encode("not a model")));
    const models = modelFetcher({ store, spec, log });
    const started = Date.now();
    const [r] = await models.getAll([bad], { timeoutMs: 1000, deadlineMs: Date.now() + 10_000 });
    expect((r as ModelFetchError).code).to.equal("bad-encoding");
    expect(store.attempts.get(bad.toString())).to.equal(1);
    expect(Date.now() - started).to.be.lessThan(5000);
  });

  it("without a deadline tries twice, as before", async () => {
    const store = new SlowStore(new Map());
    const missing = CID.parse(await new MemoryModelStore().put(update(9)));
    const models = modelFetcher({ store, spec, log });
    const [r] = await models.getAll([missing], { timeoutMs: 100 });
    expect((r as ModelFetchError).code).to.equal("unavailable");
    expect(store.attempts.get(missing.toString())).to.equal(2);
    await models.get(missing, { timeoutMs: 100 }).catch(() => undefined);
    expect(store.attempts.get(missing.toString())).to.equal(4);
  });
});
