/**
 * The explorer's data layer: every page and every /api route asks this service, which answers with
 * plain data (or throws NotFoundError). Chain data comes from the index (events, receipts) plus
 * contract views; model bytes from ExplorerContent.
 */
import { Contract, getAddress, isAddress, isHexString, type Interface, type TransactionResponse } from "ethers";
import { decodeModelSpec, decodeWeights, weightsL2Norm, WeightsSpecMismatchError } from "../node/ml/codec.ts";
import type { ModelSpec } from "../node/ml/types.ts";
import { phaseName, ROBUST_RULES } from "./abi.ts";
import { auditRound, type AuditResult, type AuditRules } from "./audit.ts";
import { agentRules, auditIO, contractAuditChain } from "./audit-io.ts";
import { ChainClient, ChainUnreachableError, errorMessage, type ChainStatus } from "./chain-client.ts";
import { ChainIndex, type BlockSummary, type ContractEvent, type ContractTx, type IndexStatus, type TxSummary } from "./chain-index.ts";
import { cidToString, parseCid } from "./cid.ts";
import { ContentNotFoundError, type ContentStatus, type ExplorerContent } from "./content.ts";
import {
  allRounds, buildPeers, buildRound, cidUses, roundNumbers, roundStats, summarizeRound,
  type CidUse, type PeerView, type RoundStats, type RoundSummary, type RoundView,
} from "./rounds.ts";
import { namedArgs, type Plain } from "./values.ts";
import { readFile } from "node:fs/promises";

export class NotFoundError extends Error {
  constructor(readonly what: string, readonly detail: string) {
    super(`${what} not found: ${detail}`);
    this.name = "NotFoundError";
  }
}

export interface ExplorerStatus {
  chain: ChainStatus;
  index: IndexStatus;
  ipfs: ContentStatus;
  contractAddress: string | null;
}

export interface TaskInfo {
  config: { [key: string]: Plain } | null;
  ruleName: string | null;
  started: boolean;
  completed: boolean;
  currentRound: number | null;
  latestGlobalModelCid: string | null;
  peerCount: number;
}

export interface DecodedError {
  name: string;
  signature: string;
  args: { [key: string]: Plain };
}

export interface TxDetail {
  hash: string;
  blockNumber: number | null;
  timestamp: number | null;
  from: string;
  to: string | null;
  toIsTask: boolean;
  nonce: number;
  value: string;
  gasLimit: string;
  gasPrice: string | null;
  gasUsed: string | null;
  status: "success" | "failed" | "pending";
  method: string | null;
  args: { [key: string]: Plain } | null;
  events: { name: string; args: { [key: string]: Plain }; logIndex: number }[];
  revert: DecodedError | { raw: string } | { message: string } | null;
  input: string;
  round: number | null;
}

export interface ModelLayer {
  name: string;
  shape: number[];
  parameters: number;
  l2Norm: number;
  min: number;
  max: number;
  mean: number;
}

export interface CidDetail {
  cid: string;
  size: number;
  kind: "weights" | "model-spec" | "bytes";
  matchesTaskSpec: boolean | null;
  specProblem: string | null;
  layers: ModelLayer[];
  totalParameters: number;
  l2Norm: number | null;
  spec: ModelSpec | null;
  preview: string | null;
  uses: CidUse[];
}

export interface AddressDetail {
  address: string;
  kind: "task-contract" | "peer" | "account" | "contract";
  balance: string | null;
  nonce: number | null;
  peer: (PeerView & { onChain: { reputation: number; active: boolean; roles: number } | null }) | null;
  txs: TxSummary[];
}

export type SearchTarget = { kind: "block" | "tx" | "address" | "round" | "cid"; path: string };

export interface ServiceOptions {
  cidTimeoutMs?: number;
  linkStatsPath?: string;
  rules?: AuditRules;
}

export class ExplorerService {
  readonly index: ChainIndex;
  private readonly contract: Contract | null = null;
  private specCache: { cid: string; spec: ModelSpec } | null = null;

  constructor(
    readonly client: ChainClient,
    readonly iface: Interface,
    readonly contractAddress: string | null,
    readonly content: ExplorerContent,
    private readonly options: ServiceOptions = {},
    index?: ChainIndex,
  ) {
    this.index = index ?? new ChainIndex(client, iface, contractAddress);
  }

  get cidTimeoutMs(): number {
    return this.options.cidTimeoutMs ?? 8000;
  }

  status(): ExplorerStatus {
    return { chain: this.client.status(), index: this.index.status(), ipfs: this.content.status(), contractAddress: this.contractAddress };
  }

  /** Sync the index (never throws; reachability shows in status()). */
  async refresh(): Promise<void> {
    await this.index.sync();
  }

  private async task(): Promise<Contract | null> {
    if (!this.contractAddress) return null;
    const provider = await this.client.getProvider();
    return new Contract(this.contractAddress, this.iface, provider);
  }

  /** Contract view call; null when the chain or the contract is unavailable. */
  private async view<T>(fn: (task: Contract) => Promise<T>): Promise<T | null> {
    try {
      const task = await this.task();
      if (!task || !this.index.status().contractDeployed) return null;
      return await this.client.use(() => fn(task));
    } catch {
      return null;
    }
  }

  // ------------------------------------------------------------------ task + overview

  async taskInfo(): Promise<TaskInfo> {
    const configEvent = this.index.eventsNamed("TaskConfigured")[0];
    const config = (configEvent?.args.config as { [key: string]: Plain } | undefined) ?? null;
    const displayConfig = config ? withCidStrings(config) : null;
    const live = await this.view(async (t) => ({
      started: Boolean(await t.taskStarted()),
      completed: Boolean(await t.taskCompleted()),
      currentRound: Number(await t.currentRound()),
      latest: cidToString(await t.latestGlobalModelCid()),
      peerCount: Number(await t.peerCount()),
    }));
    const rounds = this.index.eventsNamed("RoundStarted");
    return {
      config: displayConfig,
      ruleName: config ? ruleLabel(Number(config.robustRule), Number(config.ruleParam)) : null,
      started: live?.started ?? this.index.eventsNamed("TaskStarted").length > 0,
      completed: live?.completed ?? this.index.eventsNamed("TaskCompleted").length > 0,
      currentRound: live?.currentRound ?? (rounds.length ? Number(rounds[rounds.length - 1].args.round) : null),
      latestGlobalModelCid: live?.latest || null,
      peerCount: live?.peerCount ?? buildPeers(this.index).size,
    };
  }

  latestBlocks(count = 20, before?: number): BlockSummary[] {
    return this.index.latestBlocks(count, before);
  }

  latestContractTxs(count = 15): ContractTx[] {
    return this.index.contractTxList().slice(-count).reverse();
  }

  // ------------------------------------------------------------------ blocks + txs

  async block(id: string): Promise<BlockSummary & { txs: TxSummary[] }> {
    let summary: BlockSummary | undefined;
    if (/^\d+$/.test(id)) summary = this.index.blocks.get(Number(id));
    else if (isHexString(id, 32)) summary = [...this.index.blocks.values()].find((b) => b.hash.toLowerCase() === id.toLowerCase());
    else throw new NotFoundError("block", `"${id}" is neither a block number nor a block hash`);
    if (!summary) {
      const fetched = await this.client.use((p) => p.getBlock(/^\d+$/.test(id) ? Number(id) : id)).catch(() => null);
      if (!fetched) throw new NotFoundError("block", `no block ${id} on this chain (head is ${this.index.status().head ?? "unknown"})`);
      summary = {
        number: fetched.number,
        hash: fetched.hash ?? "",
        parentHash: fetched.parentHash,
        timestamp: fetched.timestamp,
        miner: fetched.miner,
        gasUsed: fetched.gasUsed,
        gasLimit: fetched.gasLimit,
        txHashes: [...fetched.transactions],
      };
    }
    const txs = summary.txHashes.map(
      (h, i) => this.index.txs.get(h) ?? { hash: h, blockNumber: summary!.number, index: i, from: "", to: null, method: null },
    );
    return { ...summary, txs };
  }

  async tx(hash: string): Promise<TxDetail> {
    if (!isHexString(hash, 32)) throw new NotFoundError("transaction", `"${hash}" is not a 32-byte transaction hash`);
    let tx: TransactionResponse | null;
    try {
      tx = await this.client.use((p) => p.getTransaction(hash));
    } catch (error) {
      if (error instanceof ChainUnreachableError) throw error;
      tx = null;
    }
    if (!tx) throw new NotFoundError("transaction", `no transaction ${hash} on this chain`);
    const receipt = await this.client.use((p) => p.getTransactionReceipt(hash));
    const toIsTask = this.index.isContract(tx.to);
    const parsed = toIsTask || this.contractAddress === null ? this.index.safeParseTx(tx.data) : null;
    const events = (receipt?.logs ?? [])
      .filter((log) => this.index.isContract(log.address))
      .map((log) => {
        const p = this.index.safeParseLog(log);
        return p ? { name: p.name, args: withCidStrings(namedArgs(p.fragment.inputs, p.args)), logIndex: log.index } : null;
      })
      .filter((e): e is { name: string; args: { [key: string]: Plain }; logIndex: number } => e !== null);
    const status = receipt === null ? "pending" : receipt.status === 1 ? "success" : "failed";
    let revert: TxDetail["revert"] = null;
    if (status === "failed") revert = await this.replayRevert(tx);
    const block = tx.blockNumber !== null ? this.index.blocks.get(tx.blockNumber) : undefined;
    const args = parsed ? withCidStrings(namedArgs(parsed.fragment.inputs, parsed.args)) : null;
    return {
      hash: tx.hash,
      blockNumber: tx.blockNumber,
      timestamp: block?.timestamp ?? null,
      from: tx.from,
      to: tx.to,
      toIsTask,
      nonce: tx.nonce,
      value: tx.value.toString(),
      gasLimit: tx.gasLimit.toString(),
      gasPrice: tx.gasPrice?.toString() ?? null,
      gasUsed: receipt?.gasUsed.toString() ?? null,
      status,
      method: parsed?.name ?? null,
      args,
      events,
      revert,
      input: tx.data,
      round: args && typeof args.round === "number" ? args.round : null,
    };
  }

  /** Replays a failed tx with eth_call on the state before its block and decodes the revert data. */
  private async replayRevert(tx: TransactionResponse): Promise<TxDetail["revert"]> {
    const blockTag = tx.blockNumber !== null ? Math.max(0, tx.blockNumber - 1) : "latest";
    try {
      await this.client.use((p) => p.call({ from: tx.from, to: tx.to, data: tx.data, value: tx.value, gasLimit: tx.gasLimit, blockTag }));
      return { message: "the replay did not revert (the failure depended on state inside its block, or ran out of gas)" };
    } catch (error) {
      const data = revertData(error);
      if (!data || data === "0x") return { message: errorMessage(error) };
      try {
        const decoded = this.iface.parseError(data);
        if (decoded) return { name: decoded.name, signature: decoded.signature, args: withCidStrings(namedArgs(decoded.fragment.inputs, decoded.args)) };
      } catch {
        // fall through to raw data
      }
      return { raw: data };
    }
  }

  // ------------------------------------------------------------------ rounds

  rounds(): RoundSummary[] {
    return allRounds(this.index).map(summarizeRound).reverse();
  }

  async round(r: number): Promise<RoundView & { phaseDeadline: number | null; lastRound: number }> {
    if (!Number.isSafeInteger(r) || r < 1) throw new NotFoundError("round", `"${r}" is not a round number (rounds start at 1)`);
    const view = buildRound(this.index, r);
    if (!view) {
      const current = await this.view(async (t) => Number(await t.currentRound()));
      throw new NotFoundError("round", `round ${r} has no events on chain${current !== null ? ` (current round is ${current})` : ""}`);
    }
    const live = await this.view(async (t) => t.getRound(r));
    const known = roundNumbers(this.index);
    return {
      ...view,
      phase: live ? phaseName(Number(live.phase)) : view.phase,
      phaseDeadline: live ? Number(live.phaseDeadline) || null : null,
      lastRound: known[known.length - 1] ?? r,
    };
  }

  async audit(r: number): Promise<AuditResult> {
    await this.round(r); // 404 for unknown rounds
    if (!this.contractAddress) throw new NotFoundError("task contract", "no contract address configured");
    const provider = await this.client.getProvider();
    const chain = contractAuditChain(this.contractAddress, this.iface, provider);
    await this.dialKnownPeers();
    const io = auditIO(chain, (cid) => this.content.get(cid, this.cidTimeoutMs, true), this.options.rules ?? agentRules);
    return this.client.use(() => auditRound(r, io));
  }

  // ------------------------------------------------------------------ peers + addresses

  peers(): PeerView[] {
    return [...buildPeers(this.index).values()].sort((a, b) => (a.peerIndex ?? 0) - (b.peerIndex ?? 0));
  }

  async address(text: string): Promise<AddressDetail> {
    if (!isAddress(text)) throw new NotFoundError("address", `"${text}" is not a 20-byte hex address`);
    const address = getAddress(text);
    const txs = this.index.txsOfAddress(address);
    const peerView = buildPeers(this.index).get(address.toLowerCase()) ?? null;
    const onChainPeer = peerView
      ? await this.view(async (t) => {
          const p = await t.getPeer(address);
          return { reputation: Number(p.reputation), active: Boolean(p.active), roles: Number(p.roles) };
        })
      : null;
    const facts = await this.client
      .use(async (p) => ({ balance: await p.getBalance(address), nonce: await p.getTransactionCount(address), code: await p.getCode(address) }))
      .catch(() => null);
    const isTask = this.index.isContract(address);
    if (!isTask && !peerView && txs.length === 0 && (!facts || (facts.balance === 0n && facts.nonce === 0 && facts.code === "0x"))) {
      throw new NotFoundError("address", `${address} has no transactions, balance or code on this chain and is not a registered peer`);
    }
    return {
      address,
      kind: isTask ? "task-contract" : peerView ? "peer" : facts && facts.code !== "0x" ? "contract" : "account",
      balance: facts ? facts.balance.toString() : null,
      nonce: facts ? facts.nonce : null,
      peer: peerView ? { ...peerView, onChain: onChainPeer } : null,
      txs: txs.slice(0, 200),
    };
  }

  private async dialKnownPeers(force = false): Promise<void> {
    const addrs = this.peers().map((p) => p.multiaddr).filter(Boolean);
    if (addrs.length) await this.content.dialPeers(addrs, force).catch(() => 0);
  }

  // ------------------------------------------------------------------ content

  /** The task's model spec (cached), or null when there is no task or it cannot be fetched. */
  async taskSpec(): Promise<ModelSpec | null> {
    const configEvent = this.index.eventsNamed("TaskConfigured")[0];
    if (!configEvent) return null;
    const cid = cidToString(String((configEvent.args.config as { [key: string]: Plain }).modelSpecCid));
    if (this.specCache?.cid === cid) return this.specCache.spec;
    try {
      const spec = decodeModelSpec(await this.content.get(cid, this.cidTimeoutMs, true));
      this.specCache = { cid, spec };
      return spec;
    } catch {
      return null;
    }
  }

  async cidBytes(text: string): Promise<{ cid: string; bytes: Uint8Array; uses: CidUse[] }> {
    const parsed = parseCid(text);
    if (!parsed) throw new NotFoundError("CID", `"${text}" is not a valid CID`);
    const cid = parsed.toString();
    const uses = cidUses(this.index, cid);
    await this.dialKnownPeers();
    try {
      return { cid, bytes: await this.content.get(cid, this.cidTimeoutMs, uses.length > 0), uses };
    } catch (error) {
      if (!(error instanceof ContentNotFoundError)) throw error;
      if (uses.length === 0) throw new NotFoundError("CID", `${cid}: it is not referenced on chain and no IPFS peer provided it (${error.message})`);
      await this.dialKnownPeers(true);
      try {
        return { cid, bytes: await this.content.get(cid, Math.min(3000, this.cidTimeoutMs), uses.length > 0), uses };
      } catch (again) {
        const where = uses.length ? `it is referenced on chain (${uses.map((u) => u.kind).join(", ")}) but` : "it is not referenced on chain and";
        throw new NotFoundError("CID", `${cid}: ${where} no IPFS peer provided it (${errorMessage(again)})`);
      }
    }
  }

  async cid(text: string): Promise<CidDetail> {
    const { cid, bytes, uses } = await this.cidBytes(text);
    const detail: CidDetail = {
      cid,
      size: bytes.length,
      kind: "bytes",
      matchesTaskSpec: null,
      specProblem: null,
      layers: [],
      totalParameters: 0,
      l2Norm: null,
      spec: null,
      preview: null,
      uses,
    };
    try {
      const weights = decodeWeights(bytes);
      detail.kind = "weights";
      detail.layers = weights.tensors.map((t) => {
        let min = Infinity, max = -Infinity, sum = 0;
        for (const v of t.values) {
          if (v < min) min = v;
          if (v > max) max = v;
          sum += v;
        }
        return {
          name: t.name,
          shape: t.shape,
          parameters: t.values.length,
          l2Norm: weightsL2Norm(t.values),
          min: t.values.length ? min : 0,
          max: t.values.length ? max : 0,
          mean: t.values.length ? sum / t.values.length : 0,
        };
      });
      detail.totalParameters = detail.layers.reduce((s, l) => s + l.parameters, 0);
      detail.l2Norm = weightsL2Norm(weights);
      const spec = await this.taskSpec();
      if (spec) {
        try {
          decodeWeights(bytes, spec);
          detail.matchesTaskSpec = true;
        } catch (error) {
          detail.matchesTaskSpec = false;
          detail.specProblem = error instanceof WeightsSpecMismatchError ? error.message : errorMessage(error);
        }
      }
      return detail;
    } catch {
      // not a weights file
    }
    try {
      detail.spec = decodeModelSpec(bytes);
      detail.kind = "model-spec";
      return detail;
    } catch {
      // opaque bytes
    }
    const head = bytes.subarray(0, 256);
    detail.preview = Array.from(head, (b) => b.toString(16).padStart(2, "0")).join(" ");
    return detail;
  }

  // ------------------------------------------------------------------ stats + search

  /** Per-round series; resolves sizes of committed CIDs in the background. */
  stats(): RoundStats[] {
    this.resolveSizesInBackground();
    return roundStats(this.index, this.content.sizes);
  }

  private resolving = false;
  private readonly sizeFailures = new Set<string>();

  private resolveSizesInBackground(): void {
    if (this.resolving) return;
    const missing = allRounds(this.index)
      .flatMap((r) => r.commits.map((c) => c.cid))
      .filter((cid) => !this.content.sizes.has(cid) && !this.sizeFailures.has(cid));
    if (missing.length === 0) return;
    this.resolving = true;
    void (async () => {
      try {
        await this.dialKnownPeers();
        for (const cid of missing.slice(0, 32)) {
          await this.content.get(cid, Math.min(this.cidTimeoutMs, 5000), true).catch(() => this.sizeFailures.add(cid));
        }
      } finally {
        this.resolving = false;
      }
    })();
  }

  async linkStats(): Promise<unknown | null> {
    if (!this.options.linkStatsPath) return null;
    try {
      return JSON.parse(await readFile(this.options.linkStatsPath, "utf8"));
    } catch {
      return null;
    }
  }

  /** Where a search query leads; null when nothing matches. */
  async search(query: string): Promise<SearchTarget | null> {
    const q = query.trim();
    if (!q) return null;
    const round = /^(?:round|r)\s*#?\s*(\d+)$/i.exec(q);
    if (round) return { kind: "round", path: `/round/${round[1]}` };
    if (/^\d+$/.test(q)) return { kind: "block", path: `/block/${q}` };
    if (isAddress(q as unknown)) return { kind: "address", path: `/address/${getAddress(q)}` };
    if (isHexString(q, 32)) {
      const isBlock = [...this.index.blocks.values()].some((b) => b.hash.toLowerCase() === q.toLowerCase());
      return isBlock ? { kind: "block", path: `/block/${q}` } : { kind: "tx", path: `/tx/${q}` };
    }
    const cid = parseCid(q);
    if (cid) return { kind: "cid", path: `/cid/${cid.toString()}` };
    return null;
  }

  events(): ContractEvent[] {
    return this.index.events;
  }
}

function ruleLabel(id: number, param: number): string {
  return `${ROBUST_RULES[id] ?? `rule ${id}`} (param ${param})`;
}

/** Replace 0x CID bytes in decoded args (fields named *cid/*Cid) by CID strings. */
function withCidStrings(args: { [key: string]: Plain }): { [key: string]: Plain } {
  const out: { [key: string]: Plain } = {};
  for (const [key, value] of Object.entries(args)) {
    if (/cid$/i.test(key) && typeof value === "string" && value.startsWith("0x")) out[key] = cidToString(value);
    else if (value && typeof value === "object" && !Array.isArray(value)) out[key] = withCidStrings(value);
    else out[key] = value;
  }
  return out;
}

function revertData(error: unknown): string | null {
  const e = error as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } } | null;
  const candidates = [e?.data, e?.info?.error?.data, e?.error?.data];
  for (const c of candidates) {
    if (typeof c === "string" && c.startsWith("0x")) return c;
    if (c && typeof c === "object" && typeof (c as { data?: unknown }).data === "string") return (c as { data: string }).data;
  }
  return null;
}
