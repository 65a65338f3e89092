/**
 * TaskChain: the typed chain boundary of a peer. Reads return protocol types (CID objects, plain
 * numbers, decoded TaskConfig); writes take them and return a small receipt; `changes()` wakes
 * the agent on every contract event, with polling as the fallback. Built on the contract types
 * that Hardhat's typechain plugin generates at compile time (types/ethers-contracts).
 */
import { Contract, keccak256, type EventLog, type JsonRpcProvider, type Log, type NonceManager } from "ethers";
import type { CID } from "multiformats/cid";
import type { FederatedTask } from "../../types/ethers-contracts/FederatedTask.ts";
import type { Logger } from "../lib/log.ts";
import { cidFromBytes } from "../protocol/codecs.ts";
import type { PhaseValue, RoleName } from "../protocol/ids.ts";
import { roleBitsOf } from "../protocol/ids.ts";
import { decodeTaskConfig, type RawTaskConfig, type TaskConfig } from "../protocol/task-config.ts";
import type { TaskConnection } from "./connect.ts";
import { openEventStream, type EventStream, type StreamLog } from "./event-stream.ts";
import { multicall, multicallBytecode, type ViewCall } from "./multicall.ts";
import { readUnraced } from "./snapshot-read.ts";
import { sendTx } from "./tx.ts";

export interface RoundState {
  round: number;
  phase: PhaseValue;
  phaseDeadline: number;
  globalModelCid: CID | null;
  commitCount: number;
  verdictCount: number;
  aggregateCount: number;
  acceptedMask: bigint;
  finalCid: CID | null;
  accuracyBps: number;
  cumulativeEpsilonMilli: number;
}

export interface Commit {
  index: number;
  trainer: string;
  cid: CID;
  numSamples: number;
}

export interface PeerInfo {
  address: string;
  peerIndex: number;
  roles: number;
  active: boolean;
  reputation: number;
  multiaddr: string;
  publicKey: string;
}

export interface TaskState {
  started: boolean;
  completed: boolean;
  currentRound: number;
}

export interface Sent {
  hash: string;
  gasUsed: bigint;
}

/** The read side of the boundary: contract views decoded to protocol types. Needs no signer. */
export interface TaskReader {
  readonly contractAddress: string;
  taskConfig(): Promise<TaskConfig>;
  taskState(): Promise<TaskState>;
  round(round: number): Promise<RoundState>;
  commits(round: number, count: number): Promise<Commit[]>;
  peers(): Promise<PeerInfo[]>;
  /** null when `address` never registered. */
  peer(address: string): Promise<PeerInfo | null>;
  /** Commit index of `trainer` in `round`, or null when it has not committed. */
  commitIndexOf(round: number, trainer: string): Promise<number | null>;
  verdictOf(round: number, verifier: string): Promise<{ committed: boolean; revealed: boolean; acceptedMask: bigint }>;
  aggregateOf(round: number, aggregator: string): Promise<{ committed: boolean; revealed: boolean; cid: CID | null }>;
  /** The round's committees (bitmaps over peer index); `selected` false while only computable, masks 0 before the seed block is readable. */
  committees(round: number): Promise<Committees>;
  isVerifier(round: number, account: string): Promise<boolean>;
  isAggregator(round: number, account: string): Promise<boolean>;
  /** Admission state of any address. */
  peerStatus(account: string): Promise<PeerStatus>;
  blockNumber(): Promise<number>;
  /** The latest block's timestamp (deadlines are block timestamps). */
  chainTime(): Promise<number>;
  /** What identifies the chain and the deployment: a node restart changes the genesis hash, a redeploy the code. */
  identity(): Promise<ChainIdentity>;
}

export interface Committees {
  selected: boolean;
  seedBlock: number;
  verifiers: bigint;
  aggregators: bigint;
}

export interface PeerStatus {
  admitted: boolean;
  registered: boolean;
  banned: boolean;
  revokedRoles: number;
  bondWei: bigint;
  claimableWei: bigint;
}

export interface ChainIdentity {
  genesisHash: string;
  /** keccak of the runtime code at the contract address; null when there is no code. */
  codeHash: string | null;
}

export interface TaskChain extends TaskReader {
  /** This peer's wallet address. */
  readonly account: string;

  /** `bondWei` > 0 posts a bond (bond admission; first registration only). */
  registerPeer(roles: readonly RoleName[], multiaddr: string, publicKey: string, bondWei?: bigint): Promise<Sent>;
  updateMultiaddr(multiaddr: string): Promise<Sent>;
  commitUpdate(round: number, cid: CID, numSamples: number): Promise<Sent>;
  selectCommittees(round: number): Promise<Sent>;
  commitVerdict(round: number, commitment: string): Promise<Sent>;
  revealVerdict(round: number, acceptedMask: bigint, salt: string): Promise<Sent>;
  commitAggregate(round: number, commitment: string): Promise<Sent>;
  revealAggregate(round: number, cid: CID, accuracyBps: number, cumulativeEpsilonMilli: number, salt: string): Promise<Sent>;
  advancePhase(round: number): Promise<Sent>;
  /** Initiator: admit addresses in an allow-list task. */
  admit(accounts: readonly string[]): Promise<Sent>;
  /** Anyone: dispute a finalized round's aggregate within its challenge window (bond mode: the task's bondWei). */
  challenge(round: number, bondWei?: bigint): Promise<Sent>;
  /**
   * A secret salt for a commitment, derived from this wallet's signature over (contract, round,
   * kind): unpredictable to others, and the same after a restart, so a reveal never depends on
   * state lost with the process.
   */
  saltFor(round: number, kind: "verdict" | "aggregate"): Promise<string>;
  /** Forget the locally tracked nonce (after a chain reset the account starts from the chain's count again). */
  resetNonce(): void;

  /**
   * Resolves on the next event the contract emits, or after `timeoutMs` (the polling fallback),
   * whichever comes first. Returns true when an event woke it.
   */
  nextChange(timeoutMs: number): Promise<boolean>;
  /**
   * true while contract events are pushed to this peer (a WebSocket subscription): then nextChange
   * wakes on every phase change and the caller may wait long between looks. false: polling.
   */
  readonly eventsLive: boolean;
  /**
   * Reads this peer's whole view of `round` (task state, the round, its own commit / verdict /
   * aggregate, committees, standing) in one request; the matching reads then answer from it until an
   * event or a transaction of this peer changes the chain (or a second passes). No-op (false) while
   * events are not pushed, or when the multicall lens is not built.
   */
  prime(round: number, account: string): Promise<boolean>;
  /** How many times the event subscription was re-established (a node restart drops it). */
  readonly eventReconnects: number;
  /** Every contract event this peer sees (decoded name and args when the ABI knows it). Returns an unsubscribe. */
  onEvent(listener: (e: ChainEvent) => void): () => void;
  /** JSON-RPC requests this peer sent so far (counted at its provider and event stream). */
  rpcStats(): RpcStats;
  close(): void;
}

export interface ChainEvent {
  name: string | null;
  args: readonly unknown[];
  log: StreamLog;
}

export interface RpcStats {
  /** JSON-RPC calls (each entry of a batch counts) */
  calls: number;
  /** HTTP requests (a batch is one) */
  httpRequests: number;
  byMethod: Record<string, number>;
  /** Round snapshots (prime) read a second or third time because an event raced the read. */
  snapshotRereads?: number;
}

/**
 * Events after which an agent has something to do (a phase or round changed, or its own standing
 * did). Commits, verdicts and aggregates of others do not wake it: the phase change they cause does.
 */
export const WAKING_EVENTS = [
  "TaskStarted", "TaskCompleted", "RoundStarted", "PhaseAdvanced", "CommitteeSeedFixed", "CommitteesSelected",
  "AcceptedMaskComputed", "RoundFinalized", "RoundFailed", "PeerBanned", "PeerExcluded", "PeerRolesRevoked",
] as const;

/** Views prime() answers; how long its answers stay usable at most. */
const MEMO_VIEWS = new Set(["taskStarted", "taskCompleted", "currentRound", "peerStatus", "getRound", "commitIndexOf", "getVerdict", "getAggregate", "getCommittees", "isVerifier", "isAggregator"]);
const MEMO_TTL_MS = 2000;

/** Events that change the registered peer list (its cache is dropped on them). */
const PEER_LIST_EVENTS = new Set(["PeerRegistered", "PeerAddressUpdated", "PeerLeft", "PeerBanned", "PeerRolesRevoked", "PeerExcluded"]);

const req = <T>(v: T | null, what: string): T => {
  if (v === null) throw new Error(`${what} is empty on chain`);
  return v;
};

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.slice(2), "hex"));

/** TaskReader over a contract connected to any provider or signer. */
export function taskReader(contract: Contract): TaskReader {
  const task = contract as unknown as FederatedTask;
  const provider = contract.runner?.provider;
  if (!provider) throw new Error("taskReader: the contract has no provider");
  const toPeer = (address: string, p: Awaited<ReturnType<FederatedTask["getPeer"]>>): PeerInfo => ({
    address, peerIndex: Number(p.peerIndex), roles: Number(p.roles), active: Boolean(p.active),
    reputation: Number(p.reputation), multiaddr: p.multiaddr, publicKey: p.publicKey,
  });

  return {
    contractAddress: String(contract.target),
    async taskConfig() {
      return decodeTaskConfig((await task.taskConfig()) as unknown as RawTaskConfig);
    },
    async taskState() {
      const [started, completed, currentRound] = await Promise.all([task.taskStarted(), task.taskCompleted(), task.currentRound()]);
      return { started, completed, currentRound: Number(currentRound) };
    },
    async round(round) {
      const r = await task.getRound(round);
      return {
        round,
        phase: Number(r.phase) as PhaseValue,
        phaseDeadline: Number(r.phaseDeadline),
        globalModelCid: cidFromBytes(bytes(r.globalModelCid)),
        commitCount: Number(r.commitCount),
        verdictCount: Number(r.verdictCount),
        aggregateCount: Number(r.aggregateCount),
        acceptedMask: BigInt(r.acceptedMask),
        finalCid: cidFromBytes(bytes(r.finalCid)),
        accuracyBps: Number(r.accuracyBps),
        cumulativeEpsilonMilli: Number(r.cumulativeEpsilonMilli),
      };
    },
    async commits(round, count) {
      if (count > 0 && multicallBytecode()) {
        // One request for the whole list (a verifier of a 50-peer round would otherwise send 50).
        const r = await multicall(provider, String(contract.target), contract.interface, Array.from({ length: count }, (_, i) => ({ name: "getCommit", args: [round, i] })))
          .catch(() => null);
        if (r && r.results.every((x) => x !== null)) {
          return r.results.map((c, index) => ({ index, trainer: String(c![0]), cid: req(cidFromBytes(bytes(String(c![1]))), `commit ${index} of round ${round}`), numSamples: Number(c![2]) }));
        }
      }
      return Promise.all(Array.from({ length: count }, async (_, index) => {
        const c = await task.getCommit(round, index);
        return { index, trainer: c.trainer, cid: req(cidFromBytes(bytes(c.cid)), `commit ${index} of round ${round}`), numSamples: Number(c.numSamples) };
      }));
    },
    async peers() {
      const n = Number(await task.peerCount());
      if (n > 0 && multicallBytecode()) {
        const target = String(contract.target);
        const addrs = await multicall(provider, target, contract.interface, Array.from({ length: n }, (_, i) => ({ name: "peerAt", args: [i] }))).catch(() => null);
        if (addrs && addrs.results.every((x) => x !== null)) {
          const list = addrs.results.map((a) => String(a![0]));
          const infos = await multicall(provider, target, contract.interface, list.map((a) => ({ name: "getPeer", args: [a] }))).catch(() => null);
          if (infos && infos.results.every((x) => x !== null)) {
            return infos.results.map((p, i) => toPeer(list[i], p as unknown as Awaited<ReturnType<FederatedTask["getPeer"]>>));
          }
        }
      }
      return Promise.all(Array.from({ length: n }, async (_, i) => {
        const address = await task.peerAt(i);
        return toPeer(address, await task.getPeer(address));
      }));
    },
    async peer(address) {
      const p = await task.getPeer(address).catch(() => null);
      if (!p) return null;
      return toPeer(address, p);
    },
    async commitIndexOf(round, trainer) {
      const i = Number(await task.commitIndexOf(round, trainer));
      return i === 0 ? null : i - 1;
    },
    async verdictOf(round, verifier) {
      const v = await task.getVerdict(round, verifier);
      return { committed: v.committed, revealed: v.revealed, acceptedMask: BigInt(v.acceptedMask) };
    },
    async aggregateOf(round, aggregator) {
      const a = await task.getAggregate(round, aggregator);
      return { committed: a.committed, revealed: a.revealed, cid: cidFromBytes(bytes(a.cid)) };
    },
    async committees(round) {
      const c = await task.getCommittees(round);
      return { selected: c.selected, seedBlock: Number(c.seedBlock), verifiers: BigInt(c.verifierCommittee), aggregators: BigInt(c.aggregatorCommittee) };
    },
    isVerifier: (round, account) => task.isVerifier(round, account),
    isAggregator: (round, account) => task.isAggregator(round, account),
    async peerStatus(account) {
      const p = await task.peerStatus(account);
      return { admitted: p.admitted, registered: p.registered, banned: p.banned, revokedRoles: Number(p.revokedRoles), bondWei: BigInt(p.bond), claimableWei: BigInt(p.claimable) };
    },
    blockNumber: () => provider.getBlockNumber(),
    async chainTime() {
      const b = await provider.getBlock("latest");
      return b?.timestamp ?? Math.floor(Date.now() / 1000);
    },
    async identity() {
      const [genesis, code] = await Promise.all([provider.getBlock(0), provider.getCode(String(contract.target))]);
      return { genesisHash: genesis?.hash ?? "", codeHash: code === "0x" ? null : keccak256(code) };
    },
  };
}

/** TaskChain over a live connection (ethers JSON-RPC provider + NonceManager signer). */
export function taskChain(conn: TaskConnection, log: Logger): TaskChain {
  const task = conn.task as unknown as FederatedTask;
  const contract = conn.task as Contract;
  const send = async (method: string, args: unknown[], value?: bigint): Promise<Sent> => {
    dropMemo();
    const r = await sendTx(contract, conn.signer as NonceManager, method, args, log, value ? { value } : {});
    return { hash: r.hash, gasUsed: r.gasUsed };
  };
  const contractAddress = String(contract.target);
  let waiters: (() => void)[] = [];
  // An event that came while nobody waited (the agent was busy acting) is kept, so the next
  // nextChange() returns at once instead of sleeping through the change it announced.
  let wakePending = false;
  const wakeAll = () => {
    const w = waiters;
    waiters = [];
    if (w.length === 0) wakePending = true;
    for (const f of w) f();
  };
  const listeners = new Set<(e: ChainEvent) => void>();
  const waking = new Set<string>(WAKING_EVENTS);
  // Views answered from the last prime() (one multicall) until an event, a transaction of ours, or
  // MEMO_TTL_MS says the state may have changed. Only while events are pushed (else every read is live).
  const memo = new Map<string, unknown>();
  let memoAt = 0;
  const memoKey = (name: string, args: readonly unknown[]) => `${name}(${args.map((a) => String(a).toLowerCase()).join(",")})`;
  const dropMemo = () => { memo.clear(); memoAt = 0; primedBlock = 0; };
  const memoized = new Proxy(contract, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || !MEMO_VIEWS.has(prop) || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const key = memoKey(prop, args);
        if (memoAt && Date.now() - memoAt < MEMO_TTL_MS && memo.has(key)) return Promise.resolve(memo.get(key));
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  const reader = taskReader(memoized as Contract);
  // The peer list costs 1 + 2N calls to read; while events are pushed it is kept until one of
  // PEER_LIST_EVENTS says it changed.
  let peersCache: Promise<PeerInfo[]> | undefined;
  const decode = (log: StreamLog): ChainEvent => {
    try {
      const parsed = contract.interface.parseLog({ topics: log.topics, data: log.data });
      return { name: parsed?.name ?? null, args: parsed ? [...parsed.args] : [], log };
    } catch {
      return { name: null, args: [], log };
    }
  };
  // Block number the last prime() read at: an event mined in an earlier block is already in that
  // snapshot, so it neither wakes the agent again nor voids the snapshot. (Strictly earlier: an
  // eth_call may run at "latest" or at the pending block, depending on the node.)
  let primedBlock = 0;
  // Counts events that void the snapshot. prime() keeps its multicall's answers only when none came
  // while it ran: an event that arrives after the multicall executed but before its answer is read
  // would otherwise leave a snapshot older than the event it announced, and the agent would sleep on
  // that stale phase until its old deadline (seen under load: verifiers slept through VerifyReveal).
  let eventGeneration = 0;
  // Snapshots read again because an event raced the first read (reported with the RPC counts).
  let snapshotRereads = 0;
  const dispatch = (raw: StreamLog) => {
    const seen = raw.blockNumber > 0 && raw.blockNumber < primedBlock && memoAt !== 0;
    if (!seen) { dropMemo(); eventGeneration++; }
    const e = decode(raw);
    if (e.name && PEER_LIST_EVENTS.has(e.name)) peersCache = undefined;
    for (const l of listeners) { try { l(e); } catch (err) { log.debug("event-listener-failed", { reason: (err as Error).message }); } }
    if (!seen && (e.name === null || waking.has(e.name))) wakeAll();
  };
  let reconnects = 0;
  // Pushed events when the node serves WebSocket on its RPC URL; polling (eth_getLogs) otherwise.
  const stream: EventStream | undefined = conn.rpcUrl
    ? openEventStream({
      rpcUrl: conn.rpcUrl, address: contractAddress, onLog: dispatch,
      onReconnect: () => { reconnects++; peersCache = undefined; wakeAll(); },
      onState: (live, reason) => { if (!live) peersCache = undefined; log.debug(live ? "events-live" : "events-down", { reason }); },
    })
    : undefined;
  const filter = { address: contractAddress };
  let listening = false;
  const provider = conn.provider as JsonRpcProvider;
  const polled = (l: Log | EventLog) => dispatch({
    address: l.address, topics: [...l.topics], data: l.data, blockNumber: l.blockNumber, transactionHash: l.transactionHash, logIndex: l.index, removed: l.removed,
  });
  const ensureListening = () => {
    if (listening || stream?.live) return;
    listening = true;
    void provider.on(filter, polled).catch((err: Error) => {
      listening = false;
      log.debug("event-subscription-failed", { reason: (err as Error).message });
    });
  };
  const stopPolling = () => {
    if (!listening) return;
    listening = false;
    void provider.off(filter, polled);
  };

  return {
    ...reader,
    peers() {
      if (!stream?.live) return reader.peers();
      const p = (peersCache ??= reader.peers());
      p.catch(() => { if (peersCache === p) peersCache = undefined; });
      return p;
    },
    account: conn.address,
    registerPeer: (roles, multiaddr, publicKey, bondWei) => send("registerPeer", [roleBitsOf(roles), multiaddr, publicKey], bondWei),
    updateMultiaddr: (multiaddr) => send("updateMultiaddr", [multiaddr]),
    commitUpdate: (round, cid, numSamples) => send("commitUpdate", [round, cid.bytes, numSamples]),
    selectCommittees: (round) => send("selectCommittees", [round]),
    commitVerdict: (round, commitment) => send("commitVerdict", [round, commitment]),
    revealVerdict: (round, mask, salt) => send("revealVerdict", [round, mask, salt]),
    commitAggregate: (round, commitment) => send("commitAggregate", [round, commitment]),
    revealAggregate: (round, cid, accuracyBps, eps, salt) => send("revealAggregate", [round, cid.bytes, accuracyBps, eps, salt]),
    advancePhase: (round) => send("advancePhase", [round]),
    admit: (accounts) => send("admit", [accounts]),
    challenge: (round, bondWei) => send("challenge", [round], bondWei),
    resetNonce: () => (conn.signer as NonceManager).reset(),
    async saltFor(round, kind) {
      const signature = await conn.signer.signMessage(`peerfl commit-reveal salt\ncontract ${contractAddress}\nround ${round}\n${kind}`);
      return keccak256(signature);
    },
    nextChange(timeoutMs) {
      // The polling subscription runs only while no pushed stream is live.
      if (stream?.live) stopPolling(); else ensureListening();
      if (wakePending) { wakePending = false; return Promise.resolve(true); }
      return new Promise((resolve) => {
        const t = setTimeout(() => { waiters = waiters.filter((w) => w !== done); resolve(false); }, timeoutMs);
        const done = () => { clearTimeout(t); resolve(true); };
        waiters.push(done);
      });
    },
    get eventsLive() { return stream?.live ?? false; },
    async prime(round, account) {
      if (!stream?.live || !multicallBytecode()) return false;
      const calls: ViewCall[] = [
        { name: "taskStarted", args: [] }, { name: "taskCompleted", args: [] }, { name: "currentRound", args: [] },
        { name: "peerStatus", args: [account] },
      ];
      if (round > 0) {
        calls.push(
          { name: "getRound", args: [round] }, { name: "commitIndexOf", args: [round, account] }, { name: "getVerdict", args: [round, account] },
          { name: "getAggregate", args: [round, account] }, { name: "getCommittees", args: [round] },
          { name: "isVerifier", args: [round, account] }, { name: "isAggregator", args: [round, account] },
        );
        // Verifiers and aggregators read the previous round's global model as the rule's reference.
        if (round > 1) calls.push({ name: "getRound", args: [round - 1] });
      }
      let startedAt = 0;
      // An event that came while the multicall ran may be missing from its answer: read it again (a
      // few times at most; then the reads below go live). Re-reading costs one call, reading live ~6.
      const got = await readUnraced(() => multicall(provider, contractAddress, contract.interface, calls), () => eventGeneration, {
        beforeEach: () => {
          startedAt = Date.now();
          wakePending = false; // what happened so far is in this snapshot; later events set it again
        },
      });
      if (!got) return false;
      const r = got.value;
      if (got.reads > 1) snapshotRereads += got.reads - 1;
      dropMemo();
      primedBlock = r.blockNumber;
      r.results.forEach((res, i) => {
        if (!res) return;
        // ethers returns a lone output as the value itself, several as the Result.
        memo.set(memoKey(calls[i].name, calls[i].args), res.length === 1 ? res[0] : res);
      });
      memoAt = startedAt;
      return true;
    },
    get eventReconnects() { return reconnects; },
    onEvent(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    rpcStats() {
      const counted = (provider as Partial<{ rpcStats(): RpcStats }>).rpcStats?.() ?? { calls: 0, httpRequests: 0, byMethod: {} };
      const subscribes = stream?.requests ?? 0;
      return {
        calls: counted.calls + subscribes, httpRequests: counted.httpRequests,
        byMethod: subscribes ? { ...counted.byMethod, eth_subscribe: subscribes } : counted.byMethod,
        snapshotRereads,
      };
    },
    close() {
      stopPolling();
      stream?.close();
      wakeAll();
    },
  };
}
