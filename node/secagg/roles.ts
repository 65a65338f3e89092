/**
 * The private-mode branches of the three roles (docs/secure-aggregation.md), called from
 * node/roles/* and node/agent/agent.ts when the agent runs with `--secagg <address>`:
 *   - trainer: post setup (shares of its secrets for its neighbours), train, wait until the setup
 *     set is final, commit the masked, quantized, sample-weighted update through commitUpdate;
 *   - any peer, after training closes: reveal its shares (self-mask share of neighbours that
 *     committed, ephemeral-key share of those that did not);
 *   - verifier: unmask the candidate aggregate from the public transcript, evaluate it on its own
 *     validation data against the current global model, vote all-accept or all-reject;
 *   - aggregator: unmask the same sum and commit the new global model's CID.
 * I/O only: the protocol is node/secagg/protocol.ts, the transcript node/secagg/transcript.ts.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CID } from "multiformats/cid";
import type { RoundState } from "../chain/task-chain.ts";
import { TxRevertedError } from "../chain/tx.ts";
import { parameterCount } from "../ml/codec.ts";
import { maxCommitsWithinBudget } from "../privacy/config.ts";
import { maskHas } from "../protocol/codecs.ts";
import { localUpdate } from "../protocol/local-update.ts";
import { secureGaussianSource } from "../privacy/gaussian.ts";
import type { Rejection, RoundVerdict } from "../protocol/verdict.ts";
import type { RoleContext, TrainerState } from "../roles/context.ts";
import type { PendingAggregate } from "../roles/reveals.ts";
import { publishAggregate } from "../roles/publish-aggregate.ts";
import { phaseBudget } from "../roles/round-inputs.ts";
import type { SecAggWriter } from "./chain.ts";
import { encodeMaskedUpdate, encodeRevealBundle, encodeSetupBundle, decodeSetupBundle, hex, unhex } from "./codec.ts";
import type { SecAggConfig } from "./config.ts";
import { UnmaskError } from "./errors.ts";
import type { RoundContext } from "./keys.ts";
import { neighboursOf } from "./neighbours.ts";
import { createReveal, createSetup, maskUpdate, openShares, type Me, type PeerKey, type SetupSecrets } from "./protocol.ts";
import { weightedDelta } from "./quantize.ts";
import { distributedEpsilonAfter, ledgerMismatch, noiseParamsOf, privatizeForSum } from "./distributed-dp.ts";
import { collectTranscript, MAX_SETUP_BUNDLE_BYTES, privateAggregate, unmaskTranscript, type RoundTranscript, type TranscriptSource } from "./transcript.ts";
import type { UnmaskResult } from "./protocol.ts";

/** A verifier accepts the candidate aggregate unless its validation loss exceeds the current global's by more than this (relative). */
export const ACCEPT_LOSS_TOLERANCE = 0.1;

/** What the roles need for private mode, injected by the agent. */
export interface SecAggRoleContext {
  chain: SecAggWriter;
  config: SecAggConfig;
  /** This peer's long-term X25519 secret key (its public key is registered on the task). */
  secretKey: Uint8Array;
  /** Where the round secrets are kept between setup and masking (survives a restart); memory only when absent. */
  stateDir?: string;
  /** Rounds whose reveal this agent already sent (or found nothing to reveal). */
  revealed?: Set<number>;
  /** Distributed DP: rounds whose epsilon this agent reported (or had nothing to report), and its own commits' round sizes. */
  epsilonReported?: Set<number>;
  ownRoundCommits?: Map<number, number>;
  dpStopLogged?: boolean;
  /** FAULT INJECTION (agent --exit-at before-reveal): vanish, unrevealed, once training of a round this peer committed in closes. */
  faultExitAt?: "before-reveal";
}

/** How long a peer vanishing by fault injection keeps its process (and IPFS node) up without acting. */
export const FAULT_EXIT_LINGER_MS = 10_000;

const bitSet = (mask: bigint, i: number) => ((mask >> BigInt(i)) & 1n) === 1n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Round secrets kept on disk (mode 0600) so a restart between setup and commit still masks with them. */
class SecretStore {
  private readonly mem = new Map<string, SetupSecrets>();
  constructor(private readonly dir?: string) {}
  private file() { return this.dir ? path.join(this.dir, "secagg-secrets.json") : null; }
  private load(): Record<string, { selfSeed: string; ephemeralSecret: string; ephemeralPublic: string }> {
    const f = this.file();
    return f && existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) : {};
  }
  get(key: string): SetupSecrets | undefined {
    const hit = this.mem.get(key);
    if (hit) return hit;
    const e = this.load()[key];
    if (!e) return undefined;
    return { selfSeed: unhex(e.selfSeed, 32, "secrets", "selfSeed"), ephemeralSecret: unhex(e.ephemeralSecret, 32, "secrets", "ephemeralSecret"), ephemeralPublic: unhex(e.ephemeralPublic, 32, "secrets", "ephemeralPublic") };
  }
  set(key: string, s: SetupSecrets): void {
    this.mem.set(key, s);
    const f = this.file();
    if (!f) return;
    const all = this.load();
    all[key] = { selfSeed: hex(s.selfSeed), ephemeralSecret: hex(s.ephemeralSecret), ephemeralPublic: hex(s.ephemeralPublic) };
    const keys = Object.keys(all);
    for (const k of keys.slice(0, Math.max(0, keys.length - 8))) delete all[k]; // only recent rounds
    writeFileSync(`${f}.tmp`, JSON.stringify(all), { mode: 0o600 });
    renameSync(`${f}.tmp`, f);
  }
}
const secretStores = new WeakMap<SecAggRoleContext, SecretStore>();
const secretsOf = (sa: SecAggRoleContext) => {
  let s = secretStores.get(sa);
  if (!s) secretStores.set(sa, (s = new SecretStore(sa.stateDir)));
  return s;
};

async function registry(ctx: RoleContext): Promise<Map<number, PeerKey>> {
  const peers = await ctx.chain.peers();
  return new Map(peers.map((p) => [p.peerIndex, { index: p.peerIndex, address: p.address, publicKey: unhex(p.publicKey.toLowerCase(), 32, "registry", "publicKey") }]));
}

async function me(ctx: RoleContext, sa: SecAggRoleContext, reg: Map<number, PeerKey>): Promise<Me> {
  const entry = [...reg.values()].find((p) => p.address.toLowerCase() === ctx.chain.account.toLowerCase());
  if (!entry) throw new Error(`${ctx.chain.account} is not registered`);
  return { ...entry, secretKey: sa.secretKey };
}

const roundCtx = (ctx: RoleContext, round: number): RoundContext => ({ task: ctx.chain.contractAddress.toLowerCase(), round });

/** Distributed DP: for each earlier round this peer committed in, how many peers committed (read from chain, cached). */
async function ownRoundCommits(ctx: RoleContext, sa: SecAggRoleContext, before: number): Promise<number[]> {
  const known = (sa.ownRoundCommits ??= new Map());
  for (let r = 1; r < before; r++) {
    if (known.has(r)) continue;
    known.set(r, (await ctx.chain.commitIndexOf(r, ctx.chain.account)) === null ? 0 : (await ctx.chain.round(r)).commitCount);
  }
  return [...known].filter(([r, n]) => r < before && n > 0).map(([, n]) => n);
}

/**
 * Distributed DP, before training round r: the task's ledger must describe this config's noise,
 * and committing r (assuming at least n_min committers) must keep this peer within its budget.
 * Returns a reason to sit the round out, or null to go on.
 */
async function distributedGate(ctx: RoleContext, sa: SecAggRoleContext, r: number): Promise<string | null> {
  const ledger = ctx.privacy;
  if (!ledger) return null;
  const mismatch = ledgerMismatch(sa.config, ledger.params);
  if (mismatch) return `privacy ledger and SecureAggregation config disagree (${mismatch}): this peer cannot account its privacy, it does not commit`;
  if (ledger.params.unit !== "distributed") return null;
  const previous = await ownRoundCommits(ctx, sa, r);
  const next = distributedEpsilonAfter(ledger.params, [...previous, ledger.params.noisePeers!]);
  const budgetMilli = ledger.params.epsilonBudget === Infinity ? Infinity : Math.floor(ledger.params.epsilonBudget * 1000);
  if (next.milli > budgetMilli) return `committing round ${r} would raise this peer's epsilon to ${next.epsilon.toFixed(3)} > budget ${ledger.params.epsilonBudget}: it stops committing updates (other roles continue)`;
  return null;
}

/**
 * Distributed DP, once round r's training closed (its commit list is final): report this peer's
 * cumulative epsilon on the ledger when it committed in r. Idempotent per round.
 */
export async function reportDistributedEpsilon(ctx: RoleContext, round: RoundState): Promise<boolean> {
  const sa = ctx.secagg!;
  const ledger = ctx.privacy;
  const done = (sa.epsilonReported ??= new Set());
  if (!ledger || ledger.params.unit !== "distributed" || done.has(round.round)) return false;
  // A chain error below throws before `done` is set, so the next poll tries again.
  if ((await ctx.chain.commitIndexOf(round.round, ctx.chain.account)) === null || (await ledger.ledger.epsilonOf(round.round, ctx.chain.account)) !== null) {
    done.add(round.round);
    return false;
  }
  const commits = [...(await ownRoundCommits(ctx, sa, round.round)), round.commitCount];
  const { epsilon, milli } = distributedEpsilonAfter(ledger.params, commits);
  try {
    const sent = await ledger.ledger.report(round.round, milli);
    done.add(round.round);
    ctx.log.info("epsilon-reported", { round: round.round, unit: "distributed", mechanism: "skellam", committed: round.commitCount, noisePeers: ledger.params.noisePeers, epsilon: epsilon.toFixed(3), budget: ledger.params.epsilonBudget, gas: sent.gasUsed });
    return true;
  } catch (err) {
    if (!(err instanceof TxRevertedError)) throw err;
    done.add(round.round);
    ctx.log.warn("epsilon-report-refused", { round: round.round, epsilonMilli: milli, error: err.errorName, args: err.errorArgs.map(String) });
    return false;
  }
}

/** Training in a private round. Returns true when this peer is done with the round's training (committed or sat out). */
export async function runPrivateTrainer(ctx: RoleContext, round: RoundState, state: TrainerState): Promise<boolean> {
  const sa = ctx.secagg!;
  const { log } = ctx;
  const r = round.round;
  // The task's peer-level DP budget binds here as in a plain round (node/roles/trainer.ts).
  if (ctx.task.dp && state.dpRoundsSpent + 1 > maxCommitsWithinBudget(ctx.task.dp)) {
    if (!state.budgetExhaustedLogged) log.warn("privacy-budget-exhausted", { round: r, spentRounds: state.dpRoundsSpent, budget: ctx.task.dp.epsilonBudget });
    state.budgetExhaustedLogged = true;
    return true;
  }
  const dpStop = await distributedGate(ctx, sa, r);
  if (dpStop) {
    if (!sa.dpStopLogged) log.warn("privacy-budget-exhausted", { round: r, unit: "distributed", reason: dpStop });
    sa.dpStopLogged = true;
    return true;
  }
  const rc = roundCtx(ctx, r);
  const key = `${rc.task}:${r}`;
  const reg = await registry(ctx);
  const self = await me(ctx, sa, reg);
  let rs = await sa.chain.roundState(r);
  let secrets = secretsOf(sa).get(key);
  if (!bitSet(rs.setupMask, self.index)) {
    const deadline = await sa.chain.setupDeadline(r);
    const now = Math.max(Math.floor(ctx.now()), await ctx.chain.chainTime());
    if (deadline === 0 || now > deadline) {
      log.warn("secagg-setup-missed", { round: r, setupDeadline: deadline, reason: "the setup window closed before this peer posted: it sits this private round out" });
      return true;
    }
    const population = rs.population || reg.size;
    if (self.index >= population) {
      log.warn("secagg-not-in-population", { round: r, peerIndex: self.index, population });
      return true;
    }
    const setup = createSetup(rc, self, population, sa.config, reg);
    const cid = CID.parse(await ctx.store.put(encodeSetupBundle(setup.bundle), { pin: true }));
    secretsOf(sa).set(key, setup.secrets);
    secrets = setup.secrets;
    const sent = await sa.chain.postSetup(r, population, setup.secrets.ephemeralPublic, cid);
    log.info("secagg-setup-posted", { round: r, population, holders: setup.bundle.holders.length, threshold: setup.bundle.threshold, bundle: cid.toString(), gas: sent.gasUsed });
    rs = await sa.chain.roundState(r);
  } else if (!secrets) {
    log.warn("secagg-secrets-lost", { round: r, reason: "setup was posted but this process no longer has its secrets: it cannot mask, so it sits the round out (its neighbours reveal its ephemeral key)" });
    return true;
  }

  if (!round.globalModelCid) throw new Error(`round ${r} has no global model CID`);
  const global = await ctx.models.get(round.globalModelCid, { timeoutMs: 60_000, deadlineMs: round.phaseDeadline * 1000 });
  const learner = await ctx.learner();
  // The task's peer-level DP (local clip + Gaussian noise), if it has one, applies as in a plain round:
  // masking hides the update, it does not replace its noise. Distributed DP (the SecureAggregation
  // config's noise) is added after quantization below (node/secagg/distributed-dp.ts).
  const dp = ctx.task.dp;
  const privacy = dp ? { clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, noise: secureGaussianSource() } : null;
  const update = await localUpdate(global, learner, { round: r, peerIndex: ctx.dataIndex, numPeers: ctx.numPeers, attack: state.attack, privacy });

  // The masks depend on which neighbours posted setup: wait until that set is final.
  const ring = neighboursOf(self.index, rs.population, sa.config.neighbours);
  for (;;) {
    if (ring.every((v) => bitSet(rs.setupMask, v))) break;
    const deadline = await sa.chain.setupDeadline(r);
    if (deadline === 0) { log.warn("secagg-too-late", { round: r, reason: "training closed before the setup window did" }); return true; }
    if (Math.max(Math.floor(ctx.now()), await ctx.chain.chainTime()) > deadline) break;
    await sleep(250);
    rs = await sa.chain.roundState(r);
  }
  const ringSet = new Set(ring);
  const ringSetups = (await sa.chain.setups(r, rs.setupMask)).filter((p) => ringSet.has(p.index));
  const posted = ringSetups.map((p) => ({ index: p.index, address: reg.get(p.index)!.address, ephemeralPk: p.ephemeralPk }));
  // Take delivery of the shares this peer holds now (fetch, pin, check): it needs them to reveal,
  // and keeping a copy means they survive their owner vanishing (SecAgg's "server forwards shares").
  await Promise.all(ringSetups.map(async (p) => {
    try {
      const bytes = await ctx.store.get(p.bundleCid.toString(), { timeoutMs: 20_000, maxBytes: MAX_SETUP_BUNDLE_BYTES });
      await ctx.store.pin(p.bundleCid.toString()).catch(() => undefined);
      openShares(rc, self, reg.get(p.index)!, decodeSetupBundle(bytes, rc));
    } catch (err) {
      log.warn("secagg-shares-unusable", { round: r, owner: p.index, reason: (err as Error).message });
    }
  }));
  if (update.dp) state.dpRoundsSpent++;
  const q = privatizeForSum(weightedDelta(update.weights, global, update.samples), sa.config);
  const noise = noiseParamsOf(sa.config);
  const masked = maskUpdate(rc, self, secrets, q.values, posted);
  const cid = CID.parse(await ctx.store.put(encodeMaskedUpdate({ task: rc.task, round: r, ownerIndex: self.index, words: masked }), { pin: true }));
  const sent = await ctx.chain.commitUpdate(r, cid, update.samples);
  log.info("committed", {
    round: r, cid: cid.toString(), samples: update.samples, trainSeconds: update.seconds.toFixed(2), loss: update.loss.toFixed(4), gas: sent.gasUsed,
    private: true, maskedWith: posted.length, clippedCoordinates: q.clipped, ...(update.attack ? { attack: update.attack } : {}),
    ...(noise ? { distributedDp: { mechanism: "skellam", lambda: Number(q.lambda.toPrecision(6)), noisePeers: noise.noisePeers, l2Clipped: q.l2Clipped } } : {}),
  });
  return true;
}

/** After training closed: reveal this peer's shares of its neighbours' secrets, once. Returns true when it sent the transaction. */
export async function revealPrivateShares(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<boolean> {
  const sa = ctx.secagg!;
  const r = round.round;
  if (sa.faultExitAt === "before-reveal" && (await ctx.chain.commitIndexOf(r, ctx.chain.account)) !== null) {
    // Fault injection for tests: a committed peer that vanishes before revealing. It stops acting
    // here for good (this promise never settles, so the agent loop never reveals, votes or
    // aggregates again), lets its IPFS node serve for FAULT_EXIT_LINGER_MS, then dies like a crash.
    ctx.log.warn("fault-exit", { round: r, point: "before-reveal", lingerMs: FAULT_EXIT_LINGER_MS, reason: "--exit-at before-reveal (fault injection): this peer committed and now vanishes without revealing its shares" });
    setTimeout(() => process.kill(process.pid, "SIGKILL"), FAULT_EXIT_LINGER_MS);
    return new Promise<boolean>(() => {});
  }
  await reportDistributedEpsilon(ctx, round);
  const done = (sa.revealed ??= new Set());
  if (done.has(r)) return false;
  const rs = await sa.chain.roundState(r);
  const reg = await registry(ctx);
  const self = await me(ctx, sa, reg);
  if (rs.population === 0 || self.index >= rs.population || bitSet(rs.revealMask, self.index)) { done.add(r); return false; }
  const owners = neighboursOf(self.index, rs.population, sa.config.neighbours).filter((u) => bitSet(rs.setupMask, u));
  if (owners.length === 0) { done.add(r); return false; }
  const rc = roundCtx(ctx, r);
  const committedAddrs = new Set((await ctx.chain.commits(r, round.commitCount)).map((c) => c.trainer.toLowerCase()));
  const setups = new Map((await sa.chain.setups(r, rs.setupMask)).map((s) => [s.index, s]));
  const entries = [];
  for (const u of owners) {
    const owner = reg.get(u)!;
    try {
      const bytes = await ctx.store.get(setups.get(u)!.bundleCid.toString(), { timeoutMs: fetchTimeoutMs, maxBytes: MAX_SETUP_BUNDLE_BYTES });
      entries.push({ owner, bundle: decodeSetupBundle(bytes, rc), committed: committedAddrs.has(owner.address.toLowerCase()) });
    } catch (err) {
      ctx.log.warn("secagg-bundle-unavailable", { round: r, owner: u, reason: (err as Error).message });
    }
  }
  const { bundle, skipped } = createReveal(rc, self, entries);
  for (const s of skipped) ctx.log.warn("secagg-share-refused", { round: r, owner: s.ownerIndex, reason: s.reason });
  const cid = CID.parse(await ctx.store.put(encodeRevealBundle(bundle), { pin: true }));
  try {
    const sent = await sa.chain.revealShares(r, cid);
    ctx.log.info("secagg-revealed", {
      round: r, cid: cid.toString(), gas: sent.gasUsed,
      self: bundle.shares.filter((s) => s.secret === "self").map((s) => s.ownerIndex), ephemeral: bundle.shares.filter((s) => s.secret === "ephemeral").map((s) => s.ownerIndex),
    });
  } catch (err) {
    if (!(err instanceof TxRevertedError)) throw err;
    ctx.log.info("secagg-reveal-refused", { round: r, error: err.errorName });
  }
  done.add(r);
  return true;
}

export function transcriptSource(ctx: RoleContext, fetchTimeoutMs: number): TranscriptSource {
  const sa = ctx.secagg!;
  return {
    task: ctx.chain.contractAddress, config: sa.config, paramCount: parameterCount(ctx.spec), secagg: sa.chain,
    commits: async (r) => ctx.chain.commits(r, (await ctx.chain.round(r)).commitCount),
    peers: async () => (await ctx.chain.peers()).map((p) => ({ peerIndex: p.peerIndex, address: p.address, publicKey: p.publicKey })),
    async fetch(cid, maxBytes) {
      const bytes = await ctx.store.get(cid.toString(), { timeoutMs: fetchTimeoutMs, maxBytes });
      // Keep (and serve) what the audit will need: masked updates, bundles, reveals.
      await ctx.store.pin(cid.toString()).catch(() => undefined);
      return bytes;
    },
  };
}

/**
 * Unmask the round's sum from the transcript, waiting (until `deadlineMs`) for reveals that have
 * not arrived yet. Throws the last UnmaskError when the deadline passes first.
 */
export async function unmaskWhenPossible(ctx: RoleContext, round: number, fetchTimeoutMs: number, deadlineMs: number): Promise<{ transcript: RoundTranscript; result: UnmaskResult }> {
  const src = transcriptSource(ctx, fetchTimeoutMs);
  const cache = new Map<string, Uint8Array>();
  for (;;) {
    const transcript = await collectTranscript(src, round, cache);
    try {
      return { transcript, result: unmaskTranscript(transcript, ctx.secagg!.config) };
    } catch (err) {
      if (!(err instanceof UnmaskError) || Date.now() > deadlineMs - 1500) throw err;
      ctx.log.debug("secagg-waiting-for-reveals", { round, reason: err.message });
      await sleep(1500);
    }
  }
}

/**
 * The private verdict: the candidate aggregate is accepted (every commit in the sum gets a 1) unless
 * it raises this verifier's validation loss by more than ACCEPT_LOSS_TOLERANCE over the current
 * global model, or cannot be unmasked (all 0: the round fails with "nothing accepted").
 */
export async function privateVerdict(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<RoundVerdict> {
  const budget = phaseBudget(ctx, round, ctx.task.verificationDuration, fetchTimeoutMs);
  const commits = round.commitCount;
  const reject = (message: string, code: Rejection["code"] = "rejected-by-rule"): RoundVerdict => ({
    accepted: Array(commits).fill(false), mask: 0n,
    rejections: Array.from({ length: commits }, (_, index) => ({ index, code, message })),
  });
  if (!round.globalModelCid) throw new Error(`round ${round.round} has no global model CID`);
  const global = await ctx.models.get(round.globalModelCid, budget);
  let unmasked;
  try {
    unmasked = await unmaskWhenPossible(ctx, round.round, fetchTimeoutMs, budget.deadlineMs ?? Date.now() + 30_000);
  } catch (err) {
    if (!(err instanceof UnmaskError)) throw err;
    ctx.log.warn("secagg-unmask-failed", { round: round.round, reasons: err.reasons });
    return reject(err.message, "unavailable");
  }
  const { transcript, result } = unmasked;
  const candidate = privateAggregate(global, result, ctx.secagg!.config);
  const learner = await ctx.learner();
  const [before, after] = [await learner.evaluate(global), await learner.evaluate(candidate)];
  const accept = Number.isFinite(after.loss) && after.loss <= before.loss * (1 + ACCEPT_LOSS_TOLERANCE) + 1e-6;
  ctx.log.info("secagg-candidate", {
    round: round.round, accept, lossBefore: before.loss.toFixed(4), lossAfter: after.loss.toFixed(4),
    accuracyBefore: before.accuracy.toFixed(4), accuracyAfter: after.accuracy.toFixed(4),
    inSum: transcript.commits.filter((c) => c.inSum).length, refusedShares: result.refused.length,
  });
  if (!accept) return reject(`the candidate aggregate raises this verifier's validation loss from ${before.loss.toFixed(4)} to ${after.loss.toFixed(4)}`);
  const accepted = transcript.commits.map((c) => c.inSum);
  return {
    accepted, mask: transcript.sumMask,
    rejections: transcript.commits.filter((c) => !c.inSum).map((c) => ({ index: c.commitIndex, code: "rejected-by-rule" as const, message: c.problem ?? "not in the sum" })),
  };
}

/** The private aggregate: the unmasked sum over the accepted set (which must be the set in the sum). */
export async function privateAggregateFor(ctx: RoleContext, round: RoundState, fetchTimeoutMs: number): Promise<PendingAggregate> {
  const budget = phaseBudget(ctx, round, ctx.task.aggregationDuration, fetchTimeoutMs);
  if (!round.globalModelCid) throw new Error(`round ${round.round} has no global model CID`);
  const global = await ctx.models.get(round.globalModelCid, budget);
  const { transcript, result } = await unmaskWhenPossible(ctx, round.round, fetchTimeoutMs, budget.deadlineMs ?? Date.now() + 30_000);
  if (transcript.sumMask !== round.acceptedMask) {
    const diff = transcript.commits.filter((c) => c.inSum !== maskHas(round.acceptedMask, c.commitIndex)).map((c) => c.commitIndex);
    throw new Error(`round ${round.round}: the accepted set differs from the set in the masked sum at commits ${diff.join(",")}; a masked sum cannot be split, so this aggregator submits nothing`);
  }
  const aggregate = privateAggregate(global, result, ctx.secagg!.config);
  ctx.log.info("secagg-unmasked", { round: round.round, inSum: transcript.commits.filter((c) => c.inSum).length, totalSamples: result.totalSamples, secrets: result.shares.map((s) => `${s.ownerIndex}:${s.secret}:${s.valid}/${s.threshold}`).join(" ") });
  return publishAggregate(ctx, round.round, aggregate);
}
