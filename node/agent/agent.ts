/**
 * The peer agent: follows the chain and acts in each round as its roles say. Decisions are taken
 * from chain state, never from memory alone, so a restarted agent resumes where the chain is and
 * does not commit, vote or aggregate twice in a round. It wakes on contract events and polls as a
 * fallback. The round's rules are in node/protocol; the roles (node/roles) are thin I/O around them.
 */
import type { ModelStore } from "../../ipfs/model-store.ts";
import type { TaskConnection } from "../chain/connect.ts";
import { taskChain, type ChainIdentity, type RoundState, type TaskChain } from "../chain/task-chain.ts";
import { InsufficientFundsError, TxRevertedError } from "../chain/tx.ts";
import type { Logger } from "../lib/log.ts";
import { decodeModelSpec, parameterCount } from "../ml/codec.ts";
import type { ModelSpec } from "../ml/types.ts";
import { Phase, phaseName, type RoleName } from "../protocol/ids.ts";
import type { TaskConfig } from "../protocol/task-config.ts";
import { revealAggregator, runAggregator } from "../roles/aggregator.ts";
import { RevealStore } from "../roles/reveals.ts";
import type { Learner, RoleContext, TrainerState } from "../roles/context.ts";
import { modelFetcher, type ModelFetcher } from "../roles/models.ts";
import { runTrainer } from "../roles/trainer.ts";
import { reportExampleEpsilon, type ExamplePrivacy } from "../roles/example-privacy.ts";
import { revealVerifier, runVerifier } from "../roles/verifier.ts";
import { revealPrivateShares, runPrivateTrainer, type SecAggRoleContext } from "../secagg/roles.ts";
import { runClusterHead, type ClusterRoleContext } from "../roles/cluster-roles.ts";
import { maskedUpdateBytes } from "../secagg/codec.ts";
import type { CollusionChannel } from "../attacks/collusion.ts";
import type { Attack } from "./attack.ts";
import type { TrainerDeviceState } from "../devices/trainer-side.ts";
import type { CID } from "multiformats/cid";
import { cidFromBytes } from "../protocol/codecs.ts";
import { collectGarbage } from "../lib/entry.ts";

export interface AgentOptions {
  /** A live connection (the agent builds its TaskChain on it), or a TaskChain directly (tests). */
  conn?: TaskConnection;
  chain?: TaskChain;
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
  /** EXPERIMENTS ONLY: the side channel of a colluding group of attackers. */
  colluders?: CollusionChannel;
  /** This peer's data shard index and the number of shards (seeds the attack as the simulator does). */
  dataIndex?: number;
  numPeers?: number;
  /** builds the learner lazily (tfjs is loaded only by peers that train or evaluate) */
  makeLearner: (spec: ModelSpec) => Promise<Learner>;
  /** maps a registered multiaddr to the one to dial (the emulated 5G link's proxy) */
  routeTo?: (peerIndex: number, multiaddr: string) => Promise<string>;
  /** account addresses by link-scenario position (--link-peers); without it, registration order places remote peers */
  linkPeers?: string[];
  /** extra IPFS peers to dial (e.g. the task creator's node) */
  bootstrapPeers?: string[];
  /** The clock deadlines are compared with (seconds); defaults to the wall clock. */
  now?: () => number;
  /** Where to keep what it committed to until it reveals (survives a restart); in memory when absent. */
  stateDir?: string;
  /** Bond to post at registration in a bond-admission task (default: the task's minimum bondWei). */
  bondWei?: bigint;
  /** The task's privacy ledger (--privacy-ledger): example-level epsilon budget and per-round reports. */
  privacy?: ExamplePrivacy;
  /** This peer's device profile (node/devices): battery/thermal gate, tier speed, energy; none = unconstrained. */
  device?: TrainerDeviceState;
  /** Private mode (--secagg): the task's SecureAggregation side contract and this peer's long-term key. */
  secagg?: SecAggRoleContext;
  /** Clustered rounds (--cluster-rounds): the task's ClusterRounds side contract and scenario. */
  clusters?: ClusterRoleContext;
}

/** Where this process's memory is, MB: resident, V8 heap in use, and outside the heap (buffers, wasm). */
function memoryMb(): { rssMb: number; heapMb: number; externalMb: number; arrayBuffersMb: number } {
  const m = process.memoryUsage();
  const mb = (x: number) => Math.round(x / 1048576);
  return { rssMb: mb(m.rss), heapMb: mb(m.heapUsed), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) };
}

/** This peer may not join the task (not admitted, banned). Not retried: the agent exits with the reason. */
export class AdmissionError extends Error {
  override name = "AdmissionError";
}

/** The chain under the agent changed identity and it cannot carry on (no contract at the address). */
export class ChainResetError extends Error {
  override name = "ChainResetError";
  constructor(readonly contractAddress: string, reason: string) {
    super(`the chain changed under this agent (${reason}) and no task contract is at ${contractAddress}; redeploy the task, or start the agent with --contract <new address>`);
  }
}

/**
 * Longest sleep of an idle agent while events are pushed (a safety net: every phase change wakes it).
 * Each wake costs one or two requests. At 30 s, an agent's requests per round grew with the round's
 * length: in 460-600 s rounds (50 peers on one host) eth_call rose from 15.7 to 28 per agent and round.
 */
const IDLE_WAKE_MS = 30_000;

/**
 * Model fetches in flight at once. With owner-first fetching each one asks a different peer (the
 * update's committer), so a fetch mostly waits on that peer's round trips: at 4, a 10-peer verifier
 * spent ~3 s fetching 10 updates of 407 KB in three sequential batches (docs/scale.md, timeline).
 */
const FETCH_CONCURRENCY = 8;

/** Peers dialed at once (see Agent.dialPeers). */
const DIAL_CONCURRENCY = 4;

const LATE_ERRORS = ["WrongRound", "WrongPhase", "DeadlinePassed", "AlreadySubmitted", "AlreadyVoted", "AlreadyCommitted", "AlreadyRevealed", "TaskIsCompleted"];

export class Agent {
  readonly chain: TaskChain;
  private task?: TaskConfig;
  private spec?: ModelSpec;
  private models?: ModelFetcher;
  private learnerPromise?: Promise<Learner>;
  private peerIndex = -1;
  private readonly dialed = new Set<string>();
  private readonly trainerState: TrainerState;
  /** (round, phase) pairs this agent is done with, so a failure is not retried in a tight loop */
  private readonly done = new Set<string>();
  private stopped = false;
  private lastProgress = "";
  private completedLogged = false;
  private cachedRound = 0;
  private identity?: ChainIdentity;
  private identityCheckedAt = 0;
  private readonly pending: RevealStore;
  private bannedLogged = false;
  private missingCodeSince = 0;
  private reconnectsSeen = 0;
  private lastRound = 0;
  /** a role could not finish yet (committee not drawable, a failure): look again soon, not at the deadline */
  private retrySoon = false;
  /** JSON-RPC totals when the current round was first seen (the per-round count is the difference). */
  private rpcAtRoundStart?: { round: number; calls: number; httpRequests: number; byMethod: Record<string, number>; fetchedBytes: number; snapshotRereads?: number; ownerHits?: number; ownerMisses?: number };
  private stopPrefetch?: () => void;
  private stopOwnerHints?: () => void;

  constructor(private readonly o: AgentOptions) {
    if (!o.chain && !o.conn) throw new Error("Agent needs a TaskConnection or a TaskChain");
    this.chain = o.chain ?? taskChain(o.conn!, o.log);
    this.trainerState = {
      attack: o.attack, colluders: o.colluders, dpRoundsSpent: 0, budgetExhaustedLogged: false,
      device: o.device, compression: { tier: o.device?.session.tier.name, dataDir: o.stateDir },
    };
    this.pending = new RevealStore(o.stateDir);
  }

  stop(): void {
    this.stopped = true;
    this.stopPrefetch?.();
    this.stopOwnerHints?.();
    this.chain.close();
  }

  private now = (): number => (this.o.now ? this.o.now() : Date.now() / 1000);

  /**
   * Notices a chain reset (a node restarted: new genesis hash) or a redeploy (different code at the
   * address). With a contract there, the agent forgets the old task and registers again; with none,
   * it waits up to `missingCodeGraceMs` for a redeploy, then stops with ChainResetError.
   */
  async checkChainIdentity(missingCodeGraceMs = 120_000): Promise<boolean> {
    const now = Date.now();
    // With pushed events, a node restart drops the subscription: a reconnection triggers the check
    // at once, and the periodic one is only a safety net: every 5 minutes (each check is 2 requests;
    // at once a minute, 50-peer rounds of 5 minutes spent 9 of an agent's 31 requests a round on it).
    // Polling: every 10 s.
    const reconnected = this.chain.eventReconnects !== this.reconnectsSeen;
    // While waiting for a redeploy after a reset, look often.
    const every = this.missingCodeSince ? 3_000 : this.chain.eventsLive ? 300_000 : 10_000;
    if (this.identity && !reconnected && now - this.identityCheckedAt < every) return false;
    this.reconnectsSeen = this.chain.eventReconnects;
    this.identityCheckedAt = now;
    const id = await this.chain.identity();
    if (!this.identity) { this.identity = id; return false; }
    if (id.genesisHash === this.identity.genesisHash && id.codeHash === this.identity.codeHash) return false;
    const reason = id.genesisHash !== this.identity.genesisHash ? "new genesis block: the node was restarted" : "different contract code at the address";
    if (id.codeHash === null) {
      if (!this.missingCodeSince) {
        this.missingCodeSince = now;
        this.o.log.warn("chain-reset", { reason, contract: this.chain.contractAddress, action: "waiting for a redeploy" });
      }
      if (now - this.missingCodeSince > missingCodeGraceMs) throw new ChainResetError(this.chain.contractAddress, reason);
      return true;
    }
    this.o.log.warn("chain-reset", { reason, contract: this.chain.contractAddress, action: "re-registering with the new deployment" });
    this.missingCodeSince = 0;
    this.chain.resetNonce();
    this.task = undefined;
    this.spec = undefined;
    this.models = undefined;
    this.done.clear();
    this.dialed.clear();
    this.completedLogged = false;
    this.bannedLogged = false;
    this.trainerState.dpRoundsSpent = 0;
    this.trainerState.budgetExhaustedLogged = false;
    this.trainerState.examplePrivacy = undefined;
    await this.register();
    // Only now: if registering failed, the next check sees the reset again and retries.
    this.identity = id;
    return true;
  }

  /** Register (or refresh the multiaddr of) this peer. Idempotent across restarts. */
  async register(): Promise<void> {
    if (!this.identity) this.identity = await this.chain.identity();
    const me = this.chain.account;
    const p = await this.chain.peer(me);
    if (p && p.active) {
      this.peerIndex = p.peerIndex;
      if (p.multiaddr !== this.o.announceAddr) {
        await this.chain.updateMultiaddr(this.o.announceAddr);
        this.o.log.info("multiaddr-updated", { multiaddr: this.o.announceAddr });
      }
      this.o.log.info("resumed", { address: me, peerIndex: this.peerIndex, roles: p.roles, reputation: p.reputation });
      return;
    }
    const status = await this.chain.peerStatus(me);
    if (status.banned) throw new AdmissionError(`${me} is banned from this task for good (revoked, excluded by reputation, or a challenge upheld)`);
    const task = await this.chain.taskConfig();
    let bond: bigint | undefined;
    if (task.admission === "allow-list" && !status.admitted) {
      throw new AdmissionError(`${me} is not admitted to this allow-list task: ask the task's initiator to admit it (admit([address]))`);
    }
    if (task.admission === "bond" && status.bondWei === 0n) bond = this.o.bondWei ?? task.bondWei;
    const sent = await this.chain.registerPeer(this.o.roles, this.o.announceAddr, this.o.publicKey, bond);
    const after = await this.chain.peer(me);
    this.peerIndex = after?.peerIndex ?? -1;
    this.o.log.info("registered", { address: me, peerIndex: this.peerIndex, roles: this.o.roles.join(","), multiaddr: this.o.announceAddr, gas: sent.gasUsed });
  }

  private async loadTask(): Promise<void> {
    if (this.task) return;
    const cfg = await this.chain.taskConfig();
    if (!cfg.modelSpecCid) throw new Error("task is not configured yet");
    await this.dialPeers();
    const specBytes = await this.o.store.get(cfg.modelSpecCid.toString(), { timeoutMs: this.o.fetchTimeoutMs, maxBytes: 1 << 20 });
    this.spec = decodeModelSpec(specBytes);
    await this.o.store.pin(cfg.modelSpecCid.toString()).catch(() => undefined);
    this.models = modelFetcher({ store: this.o.store, spec: this.spec, log: this.o.log, concurrency: FETCH_CONCURRENCY, onMiss: () => this.dialPeers(true) });
    this.task = cfg;
    this.startPrefetch(cfg);
    this.startOwnerHints();
    // Load tfjs and this peer's shard in the background while the first round opens.
    if (this.roleNeedsLearner()) void this.context().learner().catch((err: Error) => this.o.log.error("learner-failed", { reason: err.message }));
    this.o.log.info("task", { rounds: cfg.rounds, rule: cfg.rule, ruleParam: cfg.ruleParam, model: this.spec.model, dp: cfg.dp ? `C=${cfg.dp.clipNorm},sigma=${cfg.dp.noiseMultiplier}` : "off" });
  }

  /**
   * A verifier that will judge every update (no verifier committee: every verifier does) fetches
   * each update as soon as its UpdateCommitted event arrives, during training, one at a time, so
   * the verify window is spent judging, not waiting for bytes. With committees it does not: only the
   * committee drawn after training fetches, and work grows with the committee, not with the peers.
   */
  private startPrefetch(cfg: TaskConfig): void {
    this.stopPrefetch?.();
    this.stopPrefetch = undefined;
    if (this.o.secagg) return this.keepMaskedUpdates(cfg);
    if (!this.o.roles.includes("verifier") || cfg.verifierCommitteeSize !== 0) return;
    // Clustered rounds: a verifier fetches members' updates only for the clusters it is drawn to check.
    if (this.o.clusters) return;
    let queue: Promise<unknown> = Promise.resolve();
    this.stopPrefetch = this.chain.onEvent((e) => {
      if (e.name !== "UpdateCommitted" || !this.models) return;
      const [round, , , cidHex] = e.args as [bigint, string, bigint, string];
      let cid: CID | null;
      try { cid = cidFromBytes(Uint8Array.from(Buffer.from(String(cidHex).slice(2), "hex"))); } catch { return; }
      if (!cid) return;
      const models = this.models;
      const deadlineMs = Date.now() + (cfg.trainingDuration + cfg.verificationDuration) * 1000;
      const c = cid;
      // A compressed update (node/compression) decodes only against the round's global model.
      const withBase = async () => {
        const spec = this.spec;
        if (!spec?.compression) return {};
        try {
          const g = (await this.chain.round(Number(round))).globalModelCid;
          return g ? { base: { cid: g.toString(), weights: await models.get(g, { timeoutMs: this.o.fetchTimeoutMs, deadlineMs }) } } : {};
        } catch {
          return {}; // no base: the prefetch fails to decode and the verifier fetches it in VerifyCommit
        }
      };
      queue = queue.then(async () => models.get(c, { timeoutMs: this.o.fetchTimeoutMs, deadlineMs, ...(await withBase()) })
        .then(() => this.o.log.debug("prefetched", { round: Number(round), cid: c.toString() }))
        .catch(() => undefined)); // the verifier fetches (and judges) it again in VerifyCommit
    });
  }

  /**
   * Owner-first fetching: on each UpdateCommitted event, tell the store who holds that update (its
   * committer's registered multiaddr), so a verifier or aggregator asks the committer alone first
   * instead of every connected peer (EmbeddedStore.getFromOwners); on each AggregateRevealed, who
   * holds the next global model. The peer list is cached while events are pushed, so this costs no
   * request per event.
   */
  private startOwnerHints(): void {
    this.stopOwnerHints?.();
    const store = this.o.store;
    if (!store.hintProviders) return;
    // A revealed aggregate (next round's global model) is held by every aggregator that revealed it:
    // each agent asks one of them, picked by its own index, so the committee shares the uploads.
    const aggregateHolders = new Map<string, string[]>();
    this.stopOwnerHints = this.chain.onEvent((e) => {
      // Only while events are pushed: then the peer list is cached; polling would read it per event.
      if ((e.name !== "UpdateCommitted" && e.name !== "AggregateRevealed") || !this.chain.eventsLive) return;
      const [round, holder, third, fourth] = e.args as [bigint, string, unknown, unknown];
      const cidHex = e.name === "UpdateCommitted" ? fourth : third;
      let cid: CID | null;
      try { cid = cidFromBytes(Uint8Array.from(Buffer.from(String(cidHex).slice(2), "hex"))); } catch { return; }
      if (!cid || String(holder).toLowerCase() === this.chain.account.toLowerCase()) return;
      const c = cid.toString();
      void this.chain.peers().then((list) => {
        const addr = list.find((p) => p.address.toLowerCase() === String(holder).toLowerCase())?.multiaddr;
        if (!addr) return;
        if (e.name === "UpdateCommitted") return store.hintProviders!(c, [addr]);
        const key = `${round}:${c}`;
        const holders = [...(aggregateHolders.get(key) ?? []), addr];
        aggregateHolders.set(key, holders);
        for (const k of aggregateHolders.keys()) if (!k.startsWith(`${round}:`) && aggregateHolders.size > 4) aggregateHolders.delete(k);
        store.hintProviders!(c, [holders[Math.max(0, this.peerIndex) % holders.length]]);
      }).catch(() => undefined); // no hint: the fetch asks the whole swarm
    });
  }

  /**
   * Private mode: the sum needs EVERY committed masked update, also the one of a committer that
   * vanishes right after committing (its self-mask is recovered from shares, but its bytes live
   * only on its own IPFS node). So every peer fetches and pins each masked update as soon as its
   * UpdateCommitted event arrives, as holders keep the shares they hold: the bytes outlive their
   * committer, and verifiers, aggregators and auditors can still fetch them.
   */
  private keepMaskedUpdates(cfg: TaskConfig): void {
    const maxBytes = maskedUpdateBytes(this.spec ? parameterCount(this.spec) : 0);
    this.stopPrefetch = this.chain.onEvent((e) => {
      if (e.name !== "UpdateCommitted" || !this.spec) return;
      const [round, trainer, , cidHex] = e.args as [bigint, string, bigint, string];
      if (String(trainer).toLowerCase() === this.chain.account.toLowerCase()) return;
      let cid: CID | null;
      try { cid = cidFromBytes(Uint8Array.from(Buffer.from(String(cidHex).slice(2), "hex"))); } catch { return; }
      if (!cid) return;
      const c = cid.toString();
      const timeoutMs = Math.max(this.o.fetchTimeoutMs, cfg.trainingDuration * 1000);
      // Concurrently, not queued: a committer may vanish seconds after committing.
      void (async () => {
        await this.o.store.get(c, { timeoutMs, maxBytes });
        await this.o.store.pin(c);
        this.o.log.info("masked-update-kept", { round: Number(round), cid: c });
      })().catch((err: Error) => this.o.log.warn("masked-update-not-kept", { round: Number(round), cid: c, reason: err.message }));
    });
  }

  /**
   * Dial every registered peer (and bootstrap peers) not dialed yet. Failures are logged, not fatal.
   * At most DIAL_CONCURRENCY dials run at once: when a task starts, every peer dials every other, and
   * N x (N - 1) simultaneous handshakes on a loaded machine time out (at 30 peers in one process, all
   * at once left 0-2 connections per node; 4 at a time connected all). The first pass dials only the
   * peers registered before this one: a connection serves both ways, and those registered later dial
   * this peer, which halves the handshakes. Not with emulated links (routeTo): there each direction
   * goes through its own link proxy. A forced pass (a fetch missed) dials everyone.
   */
  private async dialPeers(force = false): Promise<void> {
    const targets: { index: number; addr: string }[] = (this.o.bootstrapPeers ?? []).map((addr) => ({ index: -1, addr }));
    const onlyEarlier = !force && !this.o.routeTo && this.peerIndex >= 0;
    try {
      for (const p of await this.chain.peers()) {
        if (onlyEarlier && p.peerIndex > this.peerIndex) continue;
        if (p.address.toLowerCase() !== this.chain.account.toLowerCase() && p.active && p.multiaddr) targets.push({ index: this.linkIndexOf(p.address, p.peerIndex), addr: p.multiaddr });
      }
    } catch (err) { this.o.log.warn("peer-list-failed", { reason: (err as Error).message }); }
    const todo = targets.filter(({ addr }) => force || !this.dialed.has(addr));
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < todo.length) {
        const { index, addr } = todo[next++];
        try {
          const dialAddr = this.o.routeTo && index >= 0 ? await this.o.routeTo(index, addr) : addr;
          await this.o.store.dial(dialAddr, { timeoutMs: 10_000 });
          this.dialed.add(addr);
          this.o.log.debug("dialed", { peer: index, addr: dialAddr });
        } catch (err) {
          failed++;
          this.o.log.debug("dial-failed", { peer: index, addr, reason: (err as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DIAL_CONCURRENCY, todo.length) }, worker));
    if (todo.length > 0) (force ? this.o.log.debug : this.o.log.info)("peers-dialed", { dialed: todo.length - failed, failed, forced: force });
  }

  /**
   * The remote's index in the link scenario. On-chain peer indices follow registration order; in
   * clustered mode the published deployment says which address stands at which scenario position
   * (node/roles/cluster-roles.ts), so the emulated link to a peer matches where it stands.
   */
  private linkIndexOf(address: string, peerIndex: number): number {
    const a = address.toLowerCase();
    const fromFlag = this.o.linkPeers?.indexOf(a) ?? -1;
    if (fromFlag >= 0) return fromFlag;
    const position = this.o.clusters?.setup.addresses?.indexOf(a) ?? -1;
    return position >= 0 ? position : peerIndex;
  }

  private context(): RoleContext {
    if (!this.task || !this.spec || !this.models) throw new Error("task not loaded");
    const spec = this.spec;
    return {
      chain: this.chain, store: this.o.store, models: this.models, log: this.o.log, task: this.task, spec,
      dataIndex: this.o.dataIndex ?? Math.max(0, this.peerIndex), numPeers: this.o.numPeers ?? 1,
      learner: () => (this.learnerPromise ??= this.o.makeLearner(spec)),
      now: this.now,
      privacy: this.o.privacy,
      secagg: this.o.secagg,
      clusters: this.o.clusters,
    };
  }

  /** Follow the chain until the task completes (or forever with `stay`). */
  async run(): Promise<void> {
    let announcedWait = false;
    while (!this.stopped) {
      let waitMs = this.o.pollMs * 4;
      try {
        if (await this.checkChainIdentity()) continue;
        // One request for everything this iteration reads (while events are pushed).
        await this.chain.prime(this.lastRound, this.chain.account);
        const state = await this.chain.taskState();
        this.lastRound = state.currentRound;
        if (!state.started) {
          if (!announcedWait) { this.o.log.info("waiting-for-task-start"); announcedWait = true; }
          await this.chain.nextChange(this.o.pollMs * 4);
          continue;
        }
        await this.loadTask();
        if (state.completed) {
          if (!this.completedLogged) this.countRpc(state.currentRound + 1); // the last round's count
          const final = await this.chain.round(state.currentRound);
          if (!this.completedLogged) this.o.log.info("task-completed", { rounds: state.currentRound, globalModelCid: (final.finalCid ?? final.globalModelCid)?.toString(), serving: this.o.stay });
          this.completedLogged = true;
          if (!this.o.stay) return;
          await this.chain.nextChange(2000);
          continue;
        }
        const round = await this.chain.round(state.currentRound);
        this.progress(round);
        // A new round: retry the dials that failed (at 50 peers starting at once, 12 % timed out and
        // those pairs stayed unconnected; only a verifier's miss re-dialed them). In the background.
        if (round.round !== this.cachedRound) void this.dialPeers();
        this.evictCache(round);
        this.countRpc(round.round);
        const acted = await this.act(round);
        if (acted) continue; // something happened: look again at once
        waitMs = this.idleWaitMs(round);
      } catch (err) {
        // Nothing this agent can do alone fixes these: stop, so the operator (or the demo) sees why.
        if (err instanceof ChainResetError || err instanceof InsufficientFundsError) throw err;
        this.o.log.warn("loop-error", { reason: (err as Error).message });
        await new Promise((r) => setTimeout(r, Math.max(1000, this.o.pollMs)));
      }
      await this.chain.nextChange(waitMs);
    }
  }

  /**
   * How long to sleep when there is nothing to do. Polling: pollMs x 4. With pushed events every
   * phase change wakes the agent, so it sleeps until just after the phase's deadline (when anyone
   * may advance it; staggered by peer index as in maybeAdvance), at most IDLE_WAKE_MS, at least pollMs.
   */
  private idleWaitMs(round: RoundState): number {
    if (!this.chain.eventsLive) return this.o.pollMs * 4;
    if (this.retrySoon) { this.retrySoon = false; return this.o.pollMs * 2; }
    if (round.phase < Phase.Training || round.phase > Phase.AggregateReveal || round.phaseDeadline === 0) return 30_000;
    const dueMs = (round.phaseDeadline + 1 + (Math.max(0, this.peerIndex) % 4)) * 1000 - this.now() * 1000;
    return Math.max(this.o.pollMs, Math.min(IDLE_WAKE_MS, dueMs));
  }

  /** Logs the JSON-RPC requests this agent sent in the round that just ended ("rpc-round"). */
  private countRpc(round: number): void {
    const now = { ...this.chain.rpcStats(), fetchedBytes: this.models?.fetchedBytes ?? 0, ...this.o.store.ownerFetchStats?.() };
    const start = this.rpcAtRoundStart;
    if (start && start.round === round) return;
    this.rpcAtRoundStart = { round, ...now };
    if (!start) return;
    const byMethod: Record<string, number> = {};
    for (const [m, n] of Object.entries(now.byMethod)) if (n - (start.byMethod[m] ?? 0) > 0) byMethod[m] = n - (start.byMethod[m] ?? 0);
    this.o.log.info("rpc-round", {
      round: start.round, calls: now.calls - start.calls, httpRequests: now.httpRequests - start.httpRequests, eventsLive: this.chain.eventsLive, byMethod,
      snapshotRereads: (now.snapshotRereads ?? 0) - (start.snapshotRereads ?? 0),
      ownerHits: (now.ownerHits ?? 0) - (start.ownerHits ?? 0), ownerMisses: (now.ownerMisses ?? 0) - (start.ownerMisses ?? 0),
      modelBytesFetched: Math.max(0, now.fetchedBytes - start.fetchedBytes), ...memoryMb(),
    });
  }

  /** Keep only what the next round needs: the latest global model (and this round's inputs). */
  private evictCache(round: RoundState): void {
    if (round.round === this.cachedRound || !this.models) return;
    this.cachedRound = round.round;
    this.models.retain(round.globalModelCid ? [round.globalModelCid] : []);
    collectGarbage(); // the last round's updates and tensors go back to the OS now, not at V8's leisure
  }

  private roleNeedsLearner(): boolean {
    return this.o.roles.includes("trainer") || this.o.roles.includes("aggregator");
  }

  private progress(round: RoundState): void {
    const line = `round ${round.round}/${this.task?.rounds} ${phaseName(round.phase)}`;
    if (line === this.lastProgress) return;
    this.lastProgress = line;
    this.o.log.info("progress", { round: round.round, of: this.task?.rounds, phase: phaseName(round.phase), commits: round.commitCount, verdicts: round.verdictCount, aggregates: round.aggregateCount });
  }

  /** Runs this peer's role for the round's phase, once. Returns true when it sent a transaction. */
  private async act(round: RoundState): Promise<boolean> {
    const me = this.chain.account;
    const key = `${round.round}:${round.phase}`;
    const ctx = this.context();
    const r = round.round;
    let acted = false;
    if (!this.done.has(key) && (await this.banned(r))) this.done.add(key);
    if (!this.done.has(key)) {
      try {
        let finished = true;
        // Private mode: once training closed, reveal the shares this peer holds (before voting on the sum).
        if (ctx.secagg && round.phase >= Phase.VerifyCommit && round.phase <= Phase.AggregateReveal) acted = await revealPrivateShares(ctx, round, this.o.fetchTimeoutMs);
        // Clustered rounds: a cluster head records its cluster's aggregate before the verifiers judge.
        if (ctx.clusters && round.phase === Phase.VerifyCommit && this.o.roles.includes("trainer")) acted = (await runClusterHead(ctx, round, this.o.fetchTimeoutMs)) || acted;
        if (round.phase === Phase.Training && this.o.roles.includes("trainer")) {
          if ((await this.chain.commitIndexOf(r, me)) === null) acted = ctx.secagg ? await runPrivateTrainer(ctx, round, this.trainerState) : await runTrainer(ctx, round, this.trainerState);
          // Committed before a restart but not reported yet: report now (the epsilon is recomputed from chain).
          else if (ctx.privacy) acted = await reportExampleEpsilon(ctx, r, (this.trainerState.examplePrivacy ??= {}));
        } else if (round.phase === Phase.VerifyCommit && this.o.roles.includes("verifier")) {
          finished = await this.whenInCommittee(r, "verifier", async () => {
            if (!(await this.chain.verdictOf(r, me)).committed) { await runVerifier(ctx, round, this.o.fetchTimeoutMs, this.pending); acted = true; }
          });
        } else if (round.phase === Phase.VerifyReveal && this.o.roles.includes("verifier")) {
          const v = await this.chain.verdictOf(r, me);
          if (v.committed && !v.revealed) { await revealVerifier(ctx, round, this.o.fetchTimeoutMs, this.pending); acted = true; }
        } else if (round.phase === Phase.AggregateCommit && this.o.roles.includes("aggregator")) {
          finished = await this.whenInCommittee(r, "aggregator", async () => {
            if (!(await this.chain.aggregateOf(r, me)).committed) { await runAggregator(ctx, round, this.o.fetchTimeoutMs, this.pending); acted = true; }
          });
        } else if (round.phase === Phase.AggregateReveal && this.o.roles.includes("aggregator")) {
          const a = await this.chain.aggregateOf(r, me);
          if (a.committed && !a.revealed) { await revealAggregator(ctx, round, this.o.fetchTimeoutMs, this.pending); acted = true; }
        }
        if (finished) this.done.add(key);
        else this.retrySoon = true;
      } catch (err) {
        if (err instanceof TxRevertedError && err.errorName === "CommitteeSeedUnavailable") {
          this.o.log.debug("committee-not-drawn-yet", { round: r });
          this.retrySoon = true;
        } else if (err instanceof TxRevertedError) {
          // The chain refused: the phase moved on, or we already acted. Retrying cannot help.
          const late = LATE_ERRORS.includes(err.errorName);
          (late ? this.o.log.info : this.o.log.warn)(late ? "too-late" : "tx-reverted", { round: r, phase: phaseName(round.phase), error: err.errorName, args: err.errorArgs.map(String) });
          this.done.add(key);
        } else if (err instanceof InsufficientFundsError) {
          throw err;
        } else if ((err as Error).name === "ClusterRecordsPendingError") {
          this.o.log.debug("cluster-records-pending", { round: r, reason: (err as Error).message });
          this.retrySoon = true;
          await new Promise((res) => setTimeout(res, 1000));
        } else if ((err as Error).name === "VerifierAbstainedError") {
          // Too few updates came to tell withholding from this verifier's own trouble (protocol/availability.ts).
          this.o.log.warn("verdict-abstained", { round: r, ...(err as Error & { health: object }).health, reason: (err as Error).message });
          this.done.add(key);
        } else if ((err as Error).name === "AcceptedUpdateUnavailableError") {
          this.o.log.warn("aggregate-withheld", { round: r, reason: (err as Error).message });
          this.done.add(key);
        } else {
          this.o.log.warn("role-failed", { round: r, phase: phaseName(round.phase), reason: (err as Error).message });
          this.retrySoon = true;
          await new Promise((res) => setTimeout(res, 1000));
        }
      }
    }
    await this.maybeAdvance(round);
    return acted;
  }

  /**
   * A banned peer (excluded by reputation, revoked, or a challenge upheld) can do nothing more in
   * this task: it says so once and keeps serving what it pinned (with --stay) instead of sending
   * transactions the contract refuses. Checked once per phase.
   */
  private async banned(round: number): Promise<boolean> {
    if (this.bannedLogged) return true;
    const status = await this.chain.peerStatus(this.chain.account);
    if (!status.banned) return false;
    this.bannedLogged = true;
    this.o.log.warn("excluded", { round, reason: "banned for good", reputation: (await this.chain.peer(this.chain.account))?.reputation });
    return true;
  }

  /**
   * Runs `work` when this peer is in the round's committee. The committee is drawn from the hash
   * of the block that closed training, readable from the next block on: until then, returns false
   * (not finished) so the agent looks again.
   */
  private async whenInCommittee(round: number, role: "verifier" | "aggregator", work: () => Promise<void>): Promise<boolean> {
    // Readability first, membership second: a membership view read in the seed block itself says
    // "no" for everyone, and must not be taken for the committee's answer.
    const c = await this.chain.committees(round);
    // Zero masks while not selected: the views were read (possibly from a primed snapshot) in the
    // seed block itself, whatever the live block number says now (e.g. after this peer sent a
    // private-mode reveal): their membership answer is not the committee's yet.
    if (!c.selected && ((await this.chain.blockNumber()) <= c.seedBlock || (c.verifiers === 0n && c.aggregators === 0n))) {
      // The seed block's hash is readable from the next block on. On a quiet chain nobody would mine
      // it, so draw the committees ourselves: the transaction lands in that next block.
      await this.chain.selectCommittees(round).catch((err: unknown) => {
        if (!(err instanceof TxRevertedError)) throw err;
        this.o.log.debug("select-committees-skipped", { round, error: err.errorName });
      });
      return false;
    }
    const member = role === "verifier" ? await this.chain.isVerifier(round, this.chain.account) : await this.chain.isAggregator(round, this.chain.account);
    if (member) { await work(); return true; }
    this.o.log.info("not-in-committee", { round, role });
    return true;
  }


  /** Anyone may advance an expired phase; peers stagger by index so they rarely race. */
  private async maybeAdvance(round: RoundState): Promise<void> {
    if (round.phase < Phase.Training || round.phase > Phase.AggregateReveal || round.phaseDeadline === 0) return;
    // Chain time can run ahead of the wall clock only on a test chain moved by time travel, which
    // pushes no events; on a node with pushed events, block timestamps follow the wall clock.
    const local = Math.floor(this.now());
    const now = this.chain.eventsLive ? local : Math.max(local, await this.chain.chainTime());
    if (now <= round.phaseDeadline + (Math.max(0, this.peerIndex) % 4)) return;
    try {
      await this.chain.advancePhase(round.round);
      this.o.log.info("phase-advanced", { round: round.round, from: phaseName(round.phase), reason: "deadline" });
    } catch (err) {
      if (!(err instanceof TxRevertedError)) throw err;
      this.o.log.debug("advance-skipped", { round: round.round, error: err.errorName });
    }
  }
}
