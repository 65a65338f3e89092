/**
 * The peer agent: follows the chain and acts in each round as its roles say. All decisions are
 * taken from chain state (views), never from memory alone, so a restarted agent resumes where
 * the chain is: it does not commit, vote or aggregate twice in a round.
 */
import type { TransactionReceipt } from "ethers";
import type { TaskConnection } from "../chain/connect.ts";
import { readPeers, readRound, readTaskConfig, Phase, phaseName, ROLE_AGGREGATOR, ROLE_TRAINER, ROLE_VERIFIER, type RoundView, type TaskConfigView } from "../chain/task.ts";
import { sendTx, TxRevertedError } from "../chain/tx.ts";
import type { ModelStore } from "../../ipfs/model-store.ts";
import type { Logger } from "../lib/log.ts";
import type { ModelSpec } from "../ml/types.ts";
import { decodeModelSpec, decodeWeights, encodeWeights, flattenWeights, unflattenWeights } from "../ml/codec.ts";
import type { RoleName } from "./config.ts";
import type { Learner } from "./learner.ts";
import type { RoleContext } from "../roles/context.ts";
import { runTrainer, type TrainerState } from "../roles/trainer.ts";
import { runVerifier } from "../roles/verifier.ts";
import { runAggregator } from "../roles/aggregator.ts";
import type { Attack } from "./attack.ts";

export interface AgentOptions {
  conn: TaskConnection;
  store: ModelStore;
  log: Logger;
  roles: RoleName[];
  /** libp2p multiaddr registered on chain for other peers to dial */
  announceAddr: string;
  publicKey: string;
  fetchTimeoutMs: number;
  pollMs: number;
  stay: boolean;
  attack?: Attack;
  /** builds the learner lazily (tfjs is loaded only by peers that train or evaluate) */
  makeLearner: (spec: ModelSpec) => Promise<Learner>;
  /** maps a registered multiaddr to the one to dial (the emulated 5G link's proxy) */
  routeTo?: (peerIndex: number, multiaddr: string) => Promise<string>;
  /** extra IPFS peers to dial (e.g. the task creator's node) */
  bootstrapPeers?: string[];
  maxModelBytes?: number;
}

const roleBits = (roles: RoleName[]): number =>
  (roles.includes("trainer") ? ROLE_TRAINER : 0) | (roles.includes("verifier") ? ROLE_VERIFIER : 0) | (roles.includes("aggregator") ? ROLE_AGGREGATOR : 0);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Agent {
  private task?: TaskConfigView;
  private spec?: ModelSpec;
  private learnerPromise?: Promise<Learner>;
  private peerIndex = -1;
  private readonly weightsCache = new Map<string, Float32Array>();
  private readonly dialed = new Set<string>();
  private readonly trainerState: TrainerState;
  /** (round, phase) pairs this agent is done with, so a failure is not retried in a tight loop */
  private readonly done = new Set<string>();
  private stopped = false;
  private lastProgress = "";
  private completedLogged = false;

  constructor(private readonly o: AgentOptions) {
    this.trainerState = { attack: o.attack, dpRoundsSpent: 0, budgetExhaustedLogged: false };
  }

  stop(): void { this.stopped = true; }

  private send = (method: string, args: unknown[]): Promise<TransactionReceipt> =>
    sendTx(this.o.conn.task, this.o.conn.signer, method, args, this.o.log);

  /** Register (or refresh the multiaddr of) this peer. Idempotent across restarts. */
  async register(): Promise<void> {
    const { task } = this.o.conn;
    const me = this.o.conn.address;
    const p = await task.getPeer(me).catch(() => undefined);
    const roles = roleBits(this.o.roles);
    if (p && p.active) {
      this.peerIndex = Number(p.peerIndex);
      if (p.multiaddr !== this.o.announceAddr) {
        await this.send("updateMultiaddr", [this.o.announceAddr]);
        this.o.log.info("multiaddr-updated", { multiaddr: this.o.announceAddr });
      }
      this.o.log.info("resumed", { address: me, peerIndex: this.peerIndex, roles: Number(p.roles), reputation: Number(p.reputation) });
      return;
    }
    const receipt = await this.send("registerPeer", [roles, this.o.announceAddr, this.o.publicKey]);
    const after = await task.getPeer(me);
    this.peerIndex = Number(after.peerIndex);
    this.o.log.info("registered", { address: me, peerIndex: this.peerIndex, roles: this.o.roles.join(","), multiaddr: this.o.announceAddr, gas: receipt.gasUsed });
  }

  private async loadTask(): Promise<void> {
    if (this.task) return;
    const cfg = await readTaskConfig(this.o.conn.task);
    if (!cfg.modelSpecCid) throw new Error("task is not configured yet");
    await this.dialPeers();
    const specBytes = await this.o.store.get(cfg.modelSpecCid, { timeoutMs: this.o.fetchTimeoutMs, maxBytes: 1 << 20 });
    this.spec = decodeModelSpec(specBytes);
    await this.o.store.pin(cfg.modelSpecCid).catch(() => undefined);
    this.task = cfg;
    // Load tfjs and this peer's shard in the background while the first round opens.
    if (this.roleNeedsLearner()) void this.context().learner().catch((err: Error) => this.o.log.error("learner-failed", { reason: err.message }));
    this.o.log.info("task", { rounds: cfg.rounds, rule: cfg.robustRule, ruleParam: cfg.ruleParam, model: this.spec.model, dp: cfg.dpClipNorm > 0 ? `C=${cfg.dpClipNorm},sigma=${cfg.dpNoiseMultiplier}` : "off" });
  }

  /** Dial every registered peer (and bootstrap peers) not dialed yet. Failures are logged, not fatal. */
  private async dialPeers(force = false): Promise<void> {
    const targets: { index: number; addr: string }[] = (this.o.bootstrapPeers ?? []).map((addr) => ({ index: -1, addr }));
    try {
      for (const p of await readPeers(this.o.conn.task)) {
        if (p.address.toLowerCase() !== this.o.conn.address.toLowerCase() && p.active && p.multiaddr) targets.push({ index: p.peerIndex, addr: p.multiaddr });
      }
    } catch (err) { this.o.log.warn("peer-list-failed", { reason: (err as Error).message }); }
    await Promise.all(targets.map(async ({ index, addr }) => {
      if (!force && this.dialed.has(addr)) return;
      try {
        const dialAddr = this.o.routeTo && index >= 0 ? await this.o.routeTo(index, addr) : addr;
        await this.o.store.dial(dialAddr, { timeoutMs: 5000 });
        this.dialed.add(addr);
        this.o.log.debug("dialed", { peer: index, addr: dialAddr });
      } catch (err) {
        this.o.log.debug("dial-failed", { peer: index, addr, reason: (err as Error).message });
      }
    }));
  }

  private fetchWeights = async (cid: string): Promise<Float32Array> => {
    const cached = this.weightsCache.get(cid);
    if (cached) return cached;
    let bytes: Uint8Array;
    try {
      bytes = await this.o.store.get(cid, { timeoutMs: this.o.fetchTimeoutMs, maxBytes: this.o.maxModelBytes ?? 64 << 20 });
    } catch (err) {
      await this.dialPeers(true); // a peer may have restarted on a new address
      bytes = await this.o.store.get(cid, { timeoutMs: Math.min(5000, this.o.fetchTimeoutMs), maxBytes: this.o.maxModelBytes ?? 64 << 20 })
        .catch(() => { throw err; });
    }
    const flat = flattenWeights(decodeWeights(bytes, this.spec));
    // Pin what we fetched: we then serve it onward to other peers (swarming) and to auditors.
    await this.o.store.pin(cid).catch(() => undefined);
    this.weightsCache.set(cid, flat);
    return flat;
  };

  private putWeights = async (flat: Float32Array): Promise<string> => {
    if (!this.spec) throw new Error("no model spec");
    const cid = await this.o.store.put(encodeWeights(unflattenWeights(flat, this.spec)), { pin: true });
    this.weightsCache.set(cid, flat);
    return cid;
  };

  private context(): RoleContext {
    if (!this.task || !this.spec) throw new Error("task not loaded");
    const spec = this.spec;
    return {
      conn: this.o.conn, store: this.o.store, log: this.o.log, task: this.task, spec, peerIndex: this.peerIndex,
      fetchWeights: this.fetchWeights, putWeights: this.putWeights, send: this.send,
      learner: () => (this.learnerPromise ??= this.o.makeLearner(spec)),
    };
  }

  /** Follow the chain until the task completes (or forever with `stay`). */
  async run(): Promise<void> {
    const { task } = this.o.conn;
    let announcedWait = false;
    while (!this.stopped) {
      try {
        if (!(await task.taskStarted())) {
          if (!announcedWait) { this.o.log.info("waiting-for-task-start"); announcedWait = true; }
          await sleep(this.o.pollMs);
          continue;
        }
        await this.loadTask();
        const current = Number(await task.currentRound());
        if (await task.taskCompleted()) {
          const final = await readRound(task, current);
          if (!this.completedLogged) this.o.log.info("task-completed", { rounds: current, globalModelCid: final.finalCid || final.globalModelCid, serving: this.o.stay });
          this.completedLogged = true;
          if (!this.o.stay) return;
          await sleep(2000);
          continue;
        }
        const round = await readRound(task, current);
        this.progress(round);
        await this.act(round);
      } catch (err) {
        this.o.log.warn("loop-error", { reason: (err as Error).message });
        await sleep(Math.max(1000, this.o.pollMs));
      }
      await sleep(this.o.pollMs);
    }
  }

  private roleNeedsLearner(): boolean {
    return this.o.roles.includes("trainer") || this.o.roles.includes("aggregator");
  }

  private progress(round: RoundView): void {
    const line = `round ${round.round}/${this.task?.rounds} ${phaseName(round.phase)}`;
    if (line === this.lastProgress) return;
    this.lastProgress = line;
    this.o.log.info("progress", { round: round.round, of: this.task?.rounds, phase: phaseName(round.phase), commits: round.commitCount, verdicts: round.verdictCount, aggregates: round.aggregateCount });
  }

  private async act(round: RoundView): Promise<void> {
    const { task } = this.o.conn;
    const me = this.o.conn.address;
    const key = `${round.round}:${round.phase}`;
    const ctx = this.context();
    if (!this.done.has(key)) {
      try {
        if (round.phase === Phase.Training && this.o.roles.includes("trainer")) {
          const idx = Number(await task.commitIndexOf(round.round, me));
          const reputation = Number((await task.getPeer(me)).reputation);
          if (idx === 0 && reputation < (this.task?.reputationThreshold ?? 0)) {
            // Excluded by reputation: training would be wasted, the contract refuses the commit.
            this.o.log.warn("excluded", { round: round.round, reputation, threshold: this.task?.reputationThreshold });
          } else if (idx === 0) await runTrainer(ctx, round, this.trainerState);
          this.done.add(key);
        } else if (round.phase === Phase.Verification && this.o.roles.includes("verifier")) {
          const v = await task.getVerdict(round.round, me);
          if (!v.voted) await runVerifier(ctx, round);
          this.done.add(key);
        } else if (round.phase === Phase.Aggregation && this.o.roles.includes("aggregator")) {
          const a = await task.getAggregate(round.round, me);
          if (!a.submitted) await runAggregator(ctx, round);
          this.done.add(key);
        }
      } catch (err) {
        if (err instanceof TxRevertedError) {
          // The chain refused: the phase moved on, or we already acted. Retrying cannot help.
          const late = ["WrongRound", "WrongPhase", "DeadlinePassed", "AlreadySubmitted", "AlreadyVoted", "AlreadyCommitted", "TaskIsCompleted"].includes(err.errorName);
          (late ? this.o.log.info : this.o.log.warn)(late ? "too-late" : "tx-reverted", { round: round.round, phase: phaseName(round.phase), error: err.errorName, args: err.errorArgs.map(String) });
          this.done.add(key);
        } else {
          this.o.log.warn("role-failed", { round: round.round, phase: phaseName(round.phase), reason: (err as Error).message });
          await sleep(1000);
        }
      }
    }
    await this.maybeAdvance(round);
  }

  /** Anyone may advance an expired phase; peers stagger by index so they rarely race. */
  private async maybeAdvance(round: RoundView): Promise<void> {
    if (round.phase < Phase.Training || round.phase > Phase.Aggregation || round.phaseDeadline === 0) return;
    const latest = await this.o.conn.provider.getBlock("latest");
    const now = Math.max(Math.floor(Date.now() / 1000), latest?.timestamp ?? 0);
    if (now <= round.phaseDeadline + (Math.max(0, this.peerIndex) % 4)) return;
    try {
      await this.send("advancePhase", [round.round]);
      this.o.log.info("phase-advanced", { round: round.round, from: phaseName(round.phase), reason: "deadline" });
    } catch (err) {
      if (!(err instanceof TxRevertedError)) throw err;
      this.o.log.debug("advance-skipped", { round: round.round, error: err.errorName });
    }
  }
}
