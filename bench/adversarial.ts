/**
 * `npm run bench:adversarial`: the issue-13 attacks against REAL agents on a real `hardhat node`.
 * Each scenario starts its own demo (runDemo, keepRunning: 4 honest agent processes with embedded
 * IPFS nodes, real tfjs training on MNIST shards), then an adversary acts through its own wallets
 * (Hardhat development accounts 6..10, which the Ignition module admits, or fresh random wallets
 * funded by the initiator, account 0). Scenarios run one after another, never in parallel.
 *
 * "held" = the honest outcome: the round finalizes on the honest aggregate (or fails with its
 * reason) AND the adversary's reputation or bond went down, or its action was refused. Every check
 * a scenario makes is listed in its detail; one failed check makes it `held: false`.
 *
 *   npm run bench:adversarial                      # every scenario -> bench/results/adversarial.json
 *   npm run bench:adversarial -- cid-replay lazy-copy   # only these (the JSON then holds only these)
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  Contract, ContractFactory, Wallet, ZeroHash, hexlify, keccak256, parseEther, randomBytes,
  type BaseContract, type HDNodeWallet, type JsonRpcProvider,
} from "ethers";
import { CID } from "multiformats/cid";
import { runDemo, type DemoControl, type DemoHandle, type DemoOptions } from "../node/demo/demo.ts";
import { PROJECT_ROOT, hardhatAccount, loadTaskArtifact, makeProvider } from "../node/chain/connect.ts";
import { decodeRevert } from "../node/chain/tx.ts";
import { startProcess, freePort, type ManagedProcess } from "../node/lib/processes.ts";
import { createEmbeddedStore, type EmbeddedStore } from "../ipfs/embedded-store.ts";
import { auditRound, type AuditResult } from "../explorer/audit.ts";
import { auditIO, contractAuditChain } from "../explorer/audit-io.ts";
import { cidToString } from "../explorer/cid.ts";
import { decodeModelSpec } from "../node/ml/codec.ts";
import type { ModelSpec } from "../node/ml/types.ts";
import { createLogger } from "../node/lib/log.ts";
import {
  Phase, aggregateAccepted, decodeTaskConfig, decodeUpdate, encodeUpdate, maskHas, roundRulesOf, updateCid,
  verdictCommitment, aggregateCommitment, type RawTaskConfig, type RoundUpdate, type RoundRules,
} from "../node/protocol/index.ts";
import { TASK_DEFAULTS } from "../ignition/modules/federatedTaskModule.ts";

export interface ScenarioResult {
  name: string;
  held: boolean;
  detail: string;
}

const TRAINER = 1, VERIFIER = 2, AGGREGATOR = 4, ALL_ROLES = 7;
const RESULTS = path.join(PROJECT_ROOT, "bench/results/adversarial.json");
const WORK_ROOT = path.join(PROJECT_ROOT, ".peerfl", "adversarial");
const silent = createLogger({ name: "adversary", level: "error", write: () => {} });

// ------------------------------------------------------------------------------ chain helpers

type Signerish = Wallet | HDNodeWallet;

/** One deployment seen by the adversary: a provider, the ABI and a contract per signer. */
export class ChainView {
  readonly provider: JsonRpcProvider;
  readonly abi = loadTaskArtifact().abi;
  readonly reader: Contract;
  readonly initiator: Contract;
  constructor(readonly rpcUrl: string, readonly address: string) {
    this.provider = makeProvider(rpcUrl, 31337n);
    this.reader = new Contract(address, this.abi, this.provider);
    this.initiator = this.as(hardhatAccount(0));
  }
  as(w: Signerish): Contract {
    return new Contract(this.address, this.abi, w.connect(this.provider));
  }
  account(i: number): HDNodeWallet {
    return hardhatAccount(i).connect(this.provider);
  }
  async round(r: number) {
    const x = await this.reader.getRound(r);
    return {
      phase: Number(x.phase), deadline: Number(x.phaseDeadline), commitCount: Number(x.commitCount),
      acceptedMask: BigInt(x.acceptedMask), finalCid: cidToString(x.finalCid), globalModelCid: cidToString(x.globalModelCid),
    };
  }
  async reputation(addr: string): Promise<number | null> {
    try { return Number((await this.reader.getPeer(addr)).reputation); } catch { return null; }
  }
  /** ReputationChanged events of `addr`: "old->new (reason)". */
  async reputationLog(addr: string): Promise<{ round: number; from: number; to: number; reason: number }[]> {
    const evs = await this.reader.queryFilter(this.reader.filters.ReputationChanged(addr), 0);
    return evs.map((e) => {
      const a = (e as unknown as { args: unknown[] }).args;
      return { round: Number(a[1]), from: Number(a[2]), to: Number(a[3]), reason: Number(a[4]) };
    });
  }
  async taskConfig() {
    return decodeTaskConfig((await this.reader.taskConfig()) as RawTaskConfig);
  }
  /** Funds fresh wallets from the initiator (account 0). */
  async fund(addresses: string[], wei = parseEther("1")): Promise<void> {
    const w = this.account(0);
    for (const to of addresses) await (await w.sendTransaction({ to, value: wei })).wait();
  }
}

export type Outcome = { ok: true; gas: bigint; hash: string } | { ok: false; error: string; args: string[] };

/** Sends `method` and reports the contract's decoded custom error instead of throwing. */
export async function attempt(c: Contract | BaseContract, method: string, args: unknown[], value?: bigint): Promise<Outcome> {
  const contract = c as Contract;
  try {
    const tx = await contract.getFunction(method)(...args, value === undefined ? {} : { value });
    const r = await tx.wait();
    return { ok: true, gas: r.gasUsed as bigint, hash: tx.hash as string };
  } catch (err) {
    const d = decodeRevert(contract, err);
    return { ok: false, error: d?.name ?? (err as Error).message.slice(0, 120), args: (d?.args ?? []).map((a) => String(a)) };
  }
}

export const show = (o: Outcome): string => (o.ok ? "accepted" : o.error);

export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs: number, pollMs = 300): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Waits until round `r` reached `phase` or a later one (Failed counts as later than everything). */
export async function waitPhase(chain: ChainView, r: number, phase: number, timeoutMs = 240_000) {
  return waitUntil(`round ${r} to reach phase ${phase}`, async () => {
    const s = await chain.round(r);
    return s.phase >= phase ? s : undefined;
  }, timeoutMs);
}

const closed = (phase: number) => phase === Phase.Finalized || phase === Phase.Failed;

/** A random CID of bytes nobody has. */
async function orphanCid(): Promise<CID> {
  return updateCid(randomBytes(64));
}

function randomSalt(): string {
  return hexlify(randomBytes(32));
}

/** The rpc URL and contract address the demo gave its agents (onProgress does not pass them). */
function endpointsOf(ctl: DemoControl): { rpcUrl: string; address: string } {
  const args = ctl.agents.find((a) => a)?.child.spawnargs ?? [];
  const at = (flag: string) => args[args.indexOf(flag) + 1];
  return { rpcUrl: at("--rpc"), address: at("--contract") };
}

/** Lines of an agent's JSON log. */
function agentEvents(workDir: string): { peer: string; event: string; [k: string]: unknown }[] {
  const out: { peer: string; event: string }[] = [];
  if (!existsSync(workDir)) return out;
  for (const f of readdirSync(workDir).filter((n) => n.endsWith(".log") && n !== "hardhat-node.log" && n !== "ignition.log")) {
    for (const line of readFileSync(path.join(workDir, f), "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      try { out.push({ peer: f.replace(/\.log$/, ""), ...JSON.parse(line) }); } catch { /* partial line */ }
    }
  }
  return out as { peer: string; event: string }[];
}

// ------------------------------------------------------------------------------ IPFS helpers

/** The adversary's own IPFS node, connected to the creator and every registered peer. */
async function adversaryStore(dir: string, chain: ChainView, bootstrap: string[]): Promise<EmbeddedStore> {
  mkdirSync(dir, { recursive: true });
  const store = await createEmbeddedStore({ repoDir: dir, listenPort: 0 });
  await dialAll(store, chain, bootstrap);
  return store;
}

async function dialAll(store: EmbeddedStore, chain: ChainView, bootstrap: string[]): Promise<void> {
  const addrs = [...bootstrap];
  const n = Number(await chain.reader.peerCount());
  for (let i = 0; i < n; i++) {
    const p = await chain.reader.getPeer(await chain.reader.peerAt(i));
    if (p.multiaddr && String(p.multiaddr).includes("/p2p/")) addrs.push(String(p.multiaddr));
  }
  await Promise.all(addrs.map((a) => store.dial(a, { timeoutMs: 5000 }).catch(() => undefined)));
}

/** Bytes of `cid`, dialing its provider `from` (a peer address) first; one retry after re-dialing everyone. */
async function getFrom(store: EmbeddedStore, chain: ChainView, bootstrap: string[], cid: string, from?: string): Promise<Uint8Array> {
  if (from) {
    const p = await chain.reader.getPeer(from).catch(() => undefined);
    if (p?.multiaddr) await store.dial(String(p.multiaddr), { timeoutMs: 5000 }).catch(() => undefined);
  }
  try {
    return await store.get(cid, { timeoutMs: 20_000 });
  } catch {
    await dialAll(store, chain, bootstrap);
    return store.get(cid, { timeoutMs: 20_000 });
  }
}

async function specOf(store: EmbeddedStore, chain: ChainView): Promise<ModelSpec> {
  const cfg = await chain.taskConfig();
  return decodeModelSpec(await store.get(cfg.modelSpecCid!.toString(), { timeoutMs: 30_000 }));
}

/** The protocol's audit of a finalized round, from chain + IPFS alone. */
async function audit(chain: ChainView, store: EmbeddedStore, bootstrap: string[], r: number): Promise<AuditResult> {
  await dialAll(store, chain, bootstrap);
  const io = auditIO(contractAuditChain(chain.address, chain.reader.interface, chain.provider), (cid) => store.get(cid, { timeoutMs: 30_000 }));
  return auditRound(r, io);
}

/** The accepted updates of round r with their weights (for recomputations under other rules). */
async function acceptedUpdates(chain: ChainView, store: EmbeddedStore, spec: ModelSpec, r: number): Promise<{ updates: RoundUpdate[]; trainers: string[]; global: Float32Array }> {
  const st = await chain.round(r);
  const global = decodeUpdate(await store.get(st.globalModelCid, { timeoutMs: 30_000 }), spec);
  const updates: RoundUpdate[] = [];
  const trainers: string[] = [];
  for (let i = 0; i < st.commitCount; i++) {
    if (!maskHas(st.acceptedMask, i)) continue;
    const c = await chain.reader.getCommit(r, i);
    const cid = CID.parse(cidToString(c.cid));
    updates.push({ cid, numSamples: Number(c.numSamples), weights: decodeUpdate(await getFrom(store, chain, [], cid.toString(), String(c.trainer)), spec) });
    trainers.push(String(c.trainer));
  }
  return { updates, trainers, global };
}

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) ** 2;
  return Math.sqrt(s);
}

function cosine(a: Float32Array, b: Float32Array, base: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k] - base[k], y = b[k] - base[k];
    ab += x * y; aa += x * x; bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

// ------------------------------------------------------------------------------ demo + adversary

interface Live {
  chain: ChainView;
  ctl: DemoControl;
  workDir: string;
}

const DEMO_BASE: Partial<DemoOptions> = {
  keepRunning: true, quiet: true, json: undefined, peers: 4, attackers: 0, rounds: 1, maxSamples: 500, evaluate: false,
  trainingWindow: 90, verificationWindow: 40, aggregationWindow: 40,
};

/**
 * Runs a demo and, from its first progress poll (the task has just started, round 1 is training),
 * the adversary `script` concurrently with the agents. Returns once the demo's rounds are over and
 * the script finished; the caller stops the handle.
 */
async function withAdversary(name: string, port: number, opts: Partial<DemoOptions>, script: (live: Live) => Promise<void>): Promise<{ handle: DemoHandle; chain: ChainView; workDir: string }> {
  const workDir = path.join(WORK_ROOT, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  let scriptDone: Promise<void> | undefined;
  let scriptError: unknown;
  let chain: ChainView | undefined;
  let handle: DemoHandle;
  try {
    handle = await runDemo({
      ...DEMO_BASE, ...opts, port, workDir,
      onProgress: (_p, ctl) => {
        if (scriptDone) return;
        const { rpcUrl, address } = endpointsOf(ctl);
        chain = new ChainView(rpcUrl, address);
        scriptDone = script({ chain, ctl, workDir }).catch((err) => { scriptError = err; });
      },
    });
  } catch (err) {
    await scriptDone;
    throw err;
  }
  await scriptDone;
  if (scriptError) { await handle.stop(); throw scriptError; }
  return { handle, chain: chain ?? new ChainView(handle.rpcUrl, handle.contractAddress), workDir };
}

/** Collects named checks; a scenario holds when every check passed. */
class Checks {
  private readonly items: { ok: boolean; text: string }[] = [];
  check(ok: boolean, text: string): boolean {
    this.items.push({ ok, text });
    return ok;
  }
  get held(): boolean { return this.items.length > 0 && this.items.every((i) => i.ok); }
  detail(prefix = ""): string {
    const failed = this.items.filter((i) => !i.ok).map((i) => i.text);
    const passed = this.items.filter((i) => i.ok).map((i) => i.text);
    return `${prefix}${failed.length ? `FAILED: ${failed.join("; ")}. ` : ""}${passed.join("; ")}`;
  }
}

const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;
const repText = (log: { from: number; to: number; reason: number }[]) => log.map((e) => `${e.from}->${e.to} (reason ${e.reason})`).join(", ") || "no change";

// ------------------------------------------------------------------------------ scenarios

/** cid-replay: an admitted peer re-commits an honest CID (DuplicateUpdate), then a near-copy (rejected by the verifiers). */
export async function cidReplay(port: number): Promise<ScenarioResult> {
  const c = new Checks();
  const f: Record<string, unknown> = {};
  let store: EmbeddedStore | undefined;
  const adv = hardhatAccount(6);
  const { handle, chain, workDir } = await withAdversary("cid-replay", port, {}, async ({ chain, workDir, ctl }) => {
    const creator = (ctl.agents[0]?.child.spawnargs ?? []).flatMap((a, i, all) => (all[i - 1] === "--ipfs-peer" ? [a] : []));
    store = await adversaryStore(path.join(workDir, "adversary-ipfs"), chain, creator);
    const me = chain.as(adv);
    f.register = await attempt(me, "registerPeer", [TRAINER, (await store.multiaddrs())[0], ZeroHash]);
    const victim = await waitUntil("an honest commit", async () => ((await chain.round(1)).commitCount >= 1 ? chain.reader.getCommit(1, 0) : undefined), 180_000);
    const victimCid = CID.parse(cidToString(victim.cid));
    f.victim = String(victim.trainer);
    f.duplicate = await attempt(me, "commitUpdate", [1, victimCid.bytes, Number(victim.numSamples)]);
    f.duplicateV0 = await attempt(me, "commitUpdate", [1, victimCid.multihash.bytes, Number(victim.numSamples)]); // CIDv0 = the bare multihash
    const spec = await specOf(store, chain);
    const honest = decodeUpdate(await getFrom(store, chain, creator, victimCid.toString(), String(victim.trainer)), spec);
    const global = decodeUpdate(await getFrom(store, chain, creator, (await chain.round(1)).globalModelCid), spec);
    const copy = new Float32Array(honest.length);
    for (let k = 0; k < honest.length; k++) copy[k] = honest[k] + 1e-5 * gaussian();
    f.cosine = cosine(copy, honest, global);
    const copyCid = CID.parse(await store.put(encodeUpdate(copy, spec), { pin: true }));
    f.copyCid = copyCid.toString();
    f.nearCopy = await attempt(me, "commitUpdate", [1, copyCid.bytes, Number(victim.numSamples)]);
  });
  try {
    const st = await chain.round(1);
    const idx = Number(await chain.reader.commitIndexOf(1, adv.address)) - 1;
    const rep = await chain.reputationLog(adv.address);
    const honestAccepted = await allHonestAccepted(chain, 1, 4);
    const nearCopyLogged = agentEvents(workDir).filter((e) => e.event === "update-rejected" && e.code === "near-copy" && e.commit === idx).length;
    c.check(f.duplicate !== undefined && !(f.duplicate as Outcome).ok && (f.duplicate as { error: string }).error === "DuplicateUpdate", `re-commit of ${short(String(f.victim))}'s CID: ${show(f.duplicate as Outcome)}`);
    c.check(!(f.duplicateV0 as Outcome).ok && (f.duplicateV0 as { error: string }).error === "DuplicateUpdate", `same digest as CIDv0: ${show(f.duplicateV0 as Outcome)}`);
    c.check((f.nearCopy as Outcome).ok && idx >= 0, `near-copy (honest weights + N(0,1e-10) noise, cosine 1 - ${(1 - (f.cosine as number)).toExponential(1)} >= 0.999, new CID) committed as commit ${idx}`);
    c.check(st.phase === Phase.Finalized, `round 1 ${st.phase === Phase.Finalized ? "finalized" : `phase ${st.phase}`}`);
    c.check(idx >= 0 && !maskHas(st.acceptedMask, idx), `near-copy ${idx >= 0 && maskHas(st.acceptedMask, idx) ? "ACCEPTED" : "rejected"} by the verifier majority (${nearCopyLogged} verifier log lines say near-copy)`);
    c.check(honestAccepted, `all 4 honest updates accepted`);
    c.check(rep.some((e) => e.to < e.from), `adversary reputation ${repText(rep)}`);
  } finally {
    await store?.stop().catch(() => undefined);
    await handle.stop();
  }
  return { name: "cid-replay", held: c.held, detail: c.detail() };
}

/** True when every honest peer's (accounts 1..n) commit of round r is in the accepted mask. */
async function allHonestAccepted(chain: ChainView, r: number, n: number, accountOffset = 1): Promise<boolean> {
  const st = await chain.round(r);
  for (let i = 0; i < n; i++) {
    const idx = Number(await chain.reader.commitIndexOf(r, hardhatAccount(i + accountOffset).address)) - 1;
    if (idx < 0 || !maskHas(st.acceptedMask, idx)) return false;
  }
  return true;
}

/** withheld-update: a CID whose bytes nobody serves -> rejected as unavailable; round finalizes on the honest set. */
export async function withheldUpdate(port: number): Promise<ScenarioResult> {
  const c = new Checks();
  const f: Record<string, Outcome> = {};
  const adv = hardhatAccount(6);
  const { handle, chain, workDir } = await withAdversary("withheld-update", port, { verificationWindow: 30 }, async ({ chain }) => {
    const me = chain.as(adv);
    // A multiaddr nobody listens on, and a CID of random bytes never added to any IPFS node.
    f.register = await attempt(me, "registerPeer", [TRAINER, "/ip4/127.0.0.1/tcp/9", ZeroHash]);
    f.commit = await attempt(me, "commitUpdate", [1, (await orphanCid()).bytes, 500]);
  });
  try {
    const st = await chain.round(1);
    const idx = Number(await chain.reader.commitIndexOf(1, adv.address)) - 1;
    const rep = await chain.reputationLog(adv.address);
    const unavailable = agentEvents(workDir).filter((e) => e.event === "update-rejected-invalid" && e.commit === idx && e.code === "unavailable").length;
    c.check(f.register.ok && f.commit.ok && idx >= 0, `withheld CID committed as commit ${idx}`);
    c.check(st.phase === Phase.Finalized, `round 1 ${st.phase === Phase.Finalized ? "finalized" : `phase ${st.phase}`}`);
    c.check(idx >= 0 && !maskHas(st.acceptedMask, idx), `withheld update rejected (${unavailable} verifier log lines: unavailable)`);
    c.check(await allHonestAccepted(chain, 1, 4), "all 4 honest updates accepted");
    c.check(rep.some((e) => e.to < e.from), `adversary reputation ${repText(rep)}`);
  } finally {
    await handle.stop();
  }
  return { name: "withheld-update", held: c.held, detail: c.detail() };
}

/** lazy-copy: nothing readable during VerifyCommit; a copied commitment cannot be revealed; the copier is a non-revealer. */
export async function lazyCopy(port: number): Promise<ScenarioResult> {
  const c = new Checks();
  const f: Record<string, unknown> = {};
  const adv = hardhatAccount(6);
  const { handle, chain } = await withAdversary("lazy-copy", port, {}, async ({ chain }) => {
    const me = chain.as(adv);
    f.register = await attempt(me, "registerPeer", [VERIFIER, "/ip4/127.0.0.1/tcp/9", ZeroHash]);
    await waitPhase(chain, 1, Phase.VerifyCommit);
    // Wait for an honest verdict commitment and read everything the chain shows about it.
    const first = await waitUntil("an honest verdict commitment", async () => {
      const evs = await chain.reader.queryFilter(chain.reader.filters.VerdictCommitted(1), 0);
      return evs.length ? (evs[0] as unknown as { args: unknown[] }).args : undefined;
    }, 120_000, 200);
    const victim = String(first[1]);
    const commitment = String(first[2]);
    const seen = await chain.reader.getVerdict(1, victim);
    const st = await chain.round(1);
    f.duringCommit = { phase: st.phase, committed: seen.committed, revealed: seen.revealed, mask: BigInt(seen.acceptedMask), verdictCount: Number((await chain.reader.getRound(1)).verdictCount) };
    f.victim = victim;
    f.copyCommit = await attempt(me, "commitVerdict", [1, commitment]);
    await waitPhase(chain, 1, Phase.VerifyReveal);
    // The victim's reveal: mask from the event, salt from the transaction's calldata.
    const reveal = await waitUntil("the victim's reveal", async () => {
      const evs = await chain.reader.queryFilter(chain.reader.filters.VerdictRevealed(1, victim), 0);
      return evs[0];
    }, 120_000, 200);
    const tx = await chain.provider.getTransaction(reveal.transactionHash);
    const parsed = chain.reader.interface.parseTransaction({ data: tx!.data })!;
    const mask = BigInt(parsed.args[1]);
    const salt = String(parsed.args[2]);
    f.revealVictimSalt = await attempt(me, "revealVerdict", [1, mask, salt]);
    f.revealOwnSalt = await attempt(me, "revealVerdict", [1, mask, randomSalt()]);
    await waitUntil("verification to close", async () => (await chain.round(1)).phase >= Phase.AggregateCommit, 180_000);
  });
  try {
    const st = await chain.round(1);
    const rep = await chain.reputationLog(adv.address);
    const d = f.duringCommit as { phase: number; committed: boolean; revealed: boolean; mask: bigint; verdictCount: number };
    c.check(d.phase === Phase.VerifyCommit && d.committed && !d.revealed && d.mask === 0n && d.verdictCount === 0,
      `during VerifyCommit getVerdict(${short(String(f.victim))}) = committed ${d.committed}, revealed ${d.revealed}, mask ${d.mask}; verdictCount ${d.verdictCount}`);
    c.check((f.copyCommit as Outcome).ok, `copied commitment: commitVerdict ${show(f.copyCommit as Outcome)} (the contract cannot tell)`);
    c.check(!(f.revealVictimSalt as Outcome).ok && (f.revealVictimSalt as { error: string }).error === "RevealMismatch", `reveal with the victim's mask + salt: ${show(f.revealVictimSalt as Outcome)}`);
    c.check(!(f.revealOwnSalt as Outcome).ok && (f.revealOwnSalt as { error: string }).error === "RevealMismatch", `reveal with another salt: ${show(f.revealOwnSalt as Outcome)}`);
    c.check(rep.some((e) => e.reason === 4 && e.to < e.from), `copier counted as non-revealer: reputation ${repText(rep)}`);
    c.check(st.phase === Phase.Finalized, `round 1 ${st.phase === Phase.Finalized ? "finalized" : `phase ${st.phase}`}`);
    c.check(await allHonestAccepted(chain, 1, 4), "all 4 honest updates accepted");
  } finally {
    await handle.stop();
  }
  return { name: "lazy-copy", held: c.held, detail: c.detail() };
}

/** revoke-rejoin: revoked roles and bans survive leave + register, against live agents. */
export async function revokeRejoin(port: number): Promise<ScenarioResult> {
  const c = new Checks();
  const f: Record<string, unknown> = {};
  const peer2 = hardhatAccount(3), peer3 = hardhatAccount(4);
  const { handle, chain, workDir } = await withAdversary("revoke-rejoin", port, { trainingWindow: 60 }, async ({ chain, ctl }) => {
    // peer3: the initiator revokes its trainer role; it leaves and tries to come back with every role.
    await ctl.stopAgent(3); // its key is used below; no two senders on one nonce
    const before = await waitUntil("peer3 registered", async () => chain.reader.getPeer(peer3.address), 60_000);
    f.revoke = await attempt(chain.initiator, "revokeRoles", [peer3.address, TRAINER]);
    const me3 = chain.as(peer3);
    f.leave = await attempt(me3, "leave", []);
    f.rejoinAll = await attempt(me3, "registerPeer", [ALL_ROLES, before.multiaddr, before.publicKey]);
    f.rejoinRest = await attempt(me3, "registerPeer", [VERIFIER | AGGREGATOR, before.multiaddr, before.publicKey]);
    ctl.startAgent(3);
    // peer2: banned while its agent runs; it cannot re-register nor commit (refused at gas estimation: no nonce used).
    f.ban = await attempt(chain.initiator, "banPeer", [peer2.address]);
    const me2 = chain.as(peer2);
    f.rejoinBanned = await attempt(me2, "registerPeer", [TRAINER, "/ip4/127.0.0.1/tcp/9", ZeroHash]);
    f.commitBanned = await attempt(me2, "commitUpdate", [1, (await orphanCid()).bytes, 10]);
  });
  try {
    const st = await chain.round(1);
    const status2 = await chain.reader.peerStatus(peer2.address);
    const status3 = await chain.reader.peerStatus(peer3.address);
    const pools = await chain.reader.roundPools(1);
    const p2 = await chain.reader.getPeer(peer2.address);
    const p3 = await chain.reader.getPeer(peer3.address);
    const commit3 = Number(await chain.reader.commitIndexOf(1, peer3.address)) - 1;
    const ev3 = agentEvents(workDir).filter((e) => e.peer === "peer3" && (e.event === "tx-reverted" || e.event === "role-failed")).map((e) => String(e.error ?? e.reason));
    c.check((f.revoke as Outcome).ok && (f.leave as Outcome).ok, `revokeRoles(peer3, trainer) ${show(f.revoke as Outcome)}, peer3 leave() ${show(f.leave as Outcome)}`);
    c.check(!(f.rejoinAll as Outcome).ok && (f.rejoinAll as { error: string }).error === "RolesWereRevoked", `peer3 re-registers with all roles: ${show(f.rejoinAll as Outcome)}`);
    c.check((f.rejoinRest as Outcome).ok && Number(status3.revokedRoles) === TRAINER, `peer3 re-registers as verifier+aggregator: ${show(f.rejoinRest as Outcome)}; revokedRoles ${status3.revokedRoles}`);
    c.check(commit3 < 0, `peer3 (restarted agent) did not commit in round 1${ev3.length ? ` (agent log: ${[...new Set(ev3)].join(", ")})` : ""}`);
    c.check((f.ban as Outcome).ok && status2.banned, `banPeer(peer2) ${show(f.ban as Outcome)}, banned ${status2.banned}`);
    c.check(!(f.rejoinBanned as Outcome).ok && (f.rejoinBanned as { error: string }).error === "PeerIsBanned", `banned peer2 registerPeer: ${show(f.rejoinBanned as Outcome)}`);
    c.check(!(f.commitBanned as Outcome).ok && (f.commitBanned as { error: string }).error === "PeerIsBanned", `banned peer2 commitUpdate: ${show(f.commitBanned as Outcome)}`);
    const bit2 = 1n << BigInt(p2.peerIndex);
    c.check((BigInt(pools.verifierPool) & bit2) === 0n && (BigInt(pools.aggregatorPool) & bit2) === 0n && !p2.active, `peer2 inactive and outside round 1's pools`);
    c.check(Number(p3.roles) === (VERIFIER | AGGREGATOR), `peer3 roles on chain ${p3.roles}`);
    c.check(st.phase === Phase.Finalized, `round 1 ${st.phase === Phase.Finalized ? "finalized" : `phase ${st.phase}`} without them`);
  } finally {
    await handle.stop();
  }
  return { name: "revoke-rejoin", held: c.held, detail: c.detail() };
}

/** sample-inflation: numSamples above the cap is refused; at the cap the FedAvg weight is clipped at 3 x median. */
export async function sampleInflation(port: number): Promise<ScenarioResult> {
  const c = new Checks();
  const f: Record<string, unknown> = {};
  let store: EmbeddedStore | undefined;
  let creator: string[] = [];
  const adv = hardhatAccount(6);
  const { handle, chain } = await withAdversary("sample-inflation", port, { rule: "fedavg" }, async ({ chain, workDir, ctl }) => {
    creator = (ctl.agents[0]?.child.spawnargs ?? []).flatMap((a, i, all) => (all[i - 1] === "--ipfs-peer" ? [a] : []));
    store = await adversaryStore(path.join(workDir, "adversary-ipfs"), chain, creator);
    const me = chain.as(adv);
    f.register = await attempt(me, "registerPeer", [TRAINER, (await store.multiaddrs())[0], ZeroHash]);
    const cap = (await chain.taskConfig()).maxSamplesPerPeer;
    f.cap = cap;
    f.over = await attempt(me, "commitUpdate", [1, (await orphanCid()).bytes, cap + 1]);
    // A normal update: the adversary trains on its own 500-sample shard, then claims the cap.
    const spec = await specOf(store, chain);
    const { createLearner, learnerSeed } = await import("../node/ml/learner.ts");
    const learner = await createLearner({
      dataset: "mnist", partition: { kind: "iid" }, partitionSeed: 42, peers: 5, peerIndex: 4, maxSamples: 500, epochs: 1,
      batchSize: 32, learningRate: 0.003, optimizer: "adam", backend: "auto", spec, seed: learnerSeed(4), log: silent,
    });
    const global = decodeUpdate(await store.get((await chain.round(1)).globalModelCid, { timeoutMs: 30_000 }), spec);
    const trained = await learner.train(global, { round: 1 });
    f.trueSamples = trained.samples;
    const cid = CID.parse(await store.put(encodeUpdate(trained.weights, spec), { pin: true }));
    f.atCap = await attempt(me, "commitUpdate", [1, cid.bytes, cap]);
    learner.dispose();
  });
  try {
    const st = await chain.round(1);
    const idx = Number(await chain.reader.commitIndexOf(1, adv.address)) - 1;
    c.check(!(f.over as Outcome).ok && (f.over as { error: string }).error === "TooManySamples", `numSamples ${(f.cap as number) + 1} > cap ${f.cap}: ${show(f.over as Outcome)}`);
    c.check((f.atCap as Outcome).ok, `numSamples = cap ${f.cap} (trained on ${f.trueSamples}): ${show(f.atCap as Outcome)}`);
    c.check(st.phase === Phase.Finalized, `round 1 ${st.phase === Phase.Finalized ? "finalized" : `phase ${st.phase}`}`);
    if (store && st.phase === Phase.Finalized) {
      const a = await audit(chain, store, creator, 1);
      c.check(a.ok && a.globalCidRecomputed === st.finalCid, `audit (protocol recomputation, clip 3 x median) reproduces the final CID: ${a.ok ? "yes" : a.differences.join(" | ")}`);
      const spec = await specOf(store, chain);
      const { updates, trainers, global } = await acceptedUpdates(chain, store, spec, 1);
      const rules: RoundRules = roundRulesOf(await chain.taskConfig());
      const models = { global, previousGlobal: null };
      const onChain = decodeUpdate(await store.get(st.finalCid, { timeoutMs: 30_000 }), spec);
      const unclipped = aggregateAccepted({ ...rules, sampleWeightClip: 0 }, models, updates);
      const advAt = trainers.findIndex((t) => t.toLowerCase() === adv.address.toLowerCase());
      const honestOnly = aggregateAccepted(rules, models, updates.filter((_, i) => i !== advAt));
      const claimed = updates.map((u) => u.numSamples);
      const sorted = [...claimed].sort((x, y) => x - y);
      const med = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
      const clip = rules.sampleWeightClip ?? 0;
      const w = claimed.map((n) => Math.min(n, clip * med));
      const share = advAt >= 0 ? w[advAt] / w.reduce((s, x) => s + x, 0) : 0;
      const shareUnclipped = advAt >= 0 ? claimed[advAt] / claimed.reduce((s, x) => s + x, 0) : 0;
      c.check(advAt >= 0 && idx >= 0, `the at-cap update was accepted (commit ${idx}), so its weight counts`);
      c.check(advAt < 0 || share <= clip / (clip + updates.length - 1) + 1e-9,
        `adversary FedAvg weight ${(share * 100).toFixed(1)}% (clipped at ${clip} x median ${med}) instead of ${(shareUnclipped * 100).toFixed(1)}% claimed; `
        + `distance to the honest-only aggregate: on chain ${l2(onChain, honestOnly).toFixed(4)}, without the clip ${l2(unclipped, honestOnly).toFixed(4)}`);
    }
  } finally {
    await store?.stop().catch(() => undefined);
    await handle.stop();
  }
  return { name: "sample-inflation", held: c.held, detail: c.detail() };
}

/** wrong-aggregate: a lone wrong reveal loses reputation; a colluding aggregator quorum is caught by audit + challenge. */
export async function wrongAggregate(port: number): Promise<ScenarioResult> {
  const a = new Checks();
  // Part A: one adversary aggregator among 4 honest ones (committee = all 5, quorum 2/3 -> 4 reveals).
  const f: Record<string, unknown> = {};
  const adv = hardhatAccount(6);
  let store: EmbeddedStore | undefined;
  let creator: string[] = [];
  const runA = await withAdversary("wrong-aggregate-lone", port, {}, async ({ chain, ctl }) => {
    creator = (ctl.agents[0]?.child.spawnargs ?? []).flatMap((x, i, all) => (all[i - 1] === "--ipfs-peer" ? [x] : []));
    const me = chain.as(adv);
    f.register = await attempt(me, "registerPeer", [AGGREGATOR, "/ip4/127.0.0.1/tcp/9", ZeroHash]);
    await waitPhase(chain, 1, Phase.AggregateCommit);
    const forged = await orphanCid();
    const salt = randomSalt();
    await waitUntil("the aggregator committee", async () => (await chain.reader.getCommittees(1)).aggregatorCommittee !== 0n, 60_000);
    f.member = await chain.reader.isAggregator(1, adv.address);
    f.commit = await attempt(me, "commitAggregate", [1, aggregateCommitment(chain.address, 1, adv.address, forged, 9999, 0, salt)]);
    await waitPhase(chain, 1, Phase.AggregateReveal);
    f.reveal = await attempt(me, "revealAggregate", [1, forged.bytes, 9999, 0, salt]);
  });
  try {
    const chain = runA.chain;
    const st = await chain.round(1);
    const rep = await chain.reputationLog(adv.address);
    store = await adversaryStore(path.join(runA.workDir, "auditor-ipfs"), chain, creator);
    const au = st.phase === Phase.Finalized ? await audit(chain, store, creator, 1) : undefined;
    a.check(Boolean(f.member) && (f.commit as Outcome).ok && (f.reveal as Outcome).ok, `A: adversary aggregator (in the committee of 5) committed + revealed a forged CID`);
    a.check(st.phase === Phase.Finalized && au?.ok === true, `A: round ${st.phase === Phase.Finalized ? "finalized" : `phase ${st.phase}`} on the honest CID (audit ${au?.ok ? "reproduces it" : au?.differences.join(" | ") ?? "not run"})`);
    a.check(rep.some((e) => e.reason === 6 && e.to < e.from), `A: adversary reputation ${repText(rep)}`);
  } finally {
    await store?.stop().catch(() => undefined);
    store = undefined;
    await runA.handle.stop();
  }

  // Part B: the adversary holds the whole aggregator committee (the initiator's setup revokes the
  // aggregator role of the 4 honest agents; accounts 6 and 7 are the only aggregators).
  const g: Record<string, unknown> = {};
  const advs = [hardhatAccount(6), hardhatAccount(7)];
  const challenger = hardhatAccount(9);
  const runB = await withAdversary("wrong-aggregate-collusion", port + 1, {}, async ({ chain, ctl }) => {
    creator = (ctl.agents[0]?.child.spawnargs ?? []).flatMap((x, i, all) => (all[i - 1] === "--ipfs-peer" ? [x] : []));
    for (let i = 1; i <= 4; i++) {
      const p = hardhatAccount(i).address;
      await waitUntil(`peer${i - 1} registered`, async () => chain.reader.getPeer(p), 60_000);
      await attempt(chain.initiator, "revokeRoles", [p, AGGREGATOR]);
    }
    for (const w of advs) g[`register${w.address}`] = await attempt(chain.as(w), "registerPeer", [AGGREGATOR, "/ip4/127.0.0.1/tcp/9", ZeroHash]);
    await waitPhase(chain, 1, Phase.AggregateCommit);
    await waitUntil("the aggregator committee", async () => (await chain.reader.getCommittees(1)).aggregatorCommittee !== 0n, 60_000);
    const forged = await orphanCid();
    g.forged = forged.toString();
    const salts = advs.map(() => randomSalt());
    g.commits = await Promise.all(advs.map((w, k) => attempt(chain.as(w), "commitAggregate", [1, aggregateCommitment(chain.address, 1, w.address, forged, 9999, 0, salts[k])])));
    await waitPhase(chain, 1, Phase.AggregateReveal);
    g.reveals = [];
    for (const [k, w] of advs.entries()) (g.reveals as Outcome[]).push(await attempt(chain.as(w), "revealAggregate", [1, forged.bytes, 9999, 0, salts[k]]));
    const fin = await waitUntil("the round to close", async () => { const s = await chain.round(1); return closed(s.phase) ? s : undefined; }, 120_000);
    // Anyone may challenge within the window (allow-list mode: no challenge bond).
    if (fin.phase === Phase.Finalized) g.challenge = await attempt(chain.as(challenger), "challenge", [1]);
  });
  const b = new Checks();
  try {
    const chain = runB.chain;
    const st = await chain.round(1);
    const forgedFinal = st.phase === Phase.Finalized && st.finalCid === g.forged;
    b.check(forgedFinal, `B: the colluding quorum (2 of 2) ${forgedFinal ? "finalized its forged CID" : `did not finalize (phase ${st.phase})`}`);
    store = await adversaryStore(path.join(runB.workDir, "auditor-ipfs"), chain, creator);
    const au = st.phase === Phase.Finalized ? await audit(chain, store, creator, 1) : undefined;
    const caught = au !== undefined && !au.ok && au.globalCidRecomputed !== null && au.globalCidRecomputed !== st.finalCid;
    b.check(caught, `B: audit recomputes ${au?.globalCidRecomputed ?? "nothing"} != on-chain ${st.finalCid}`);
    b.check(Boolean(g.challenge && (g.challenge as Outcome).ok), `B: challenge(1) by an outsider ${g.challenge ? show(g.challenge as Outcome) : "not sent"}`);
    const id = 0;
    const settle = caught ? await attempt(chain.initiator, "settleChallenge", [id, true]) : undefined;
    b.check(Boolean(settle?.ok), `B: initiator settleChallenge(0, upheld) after the audit: ${settle ? show(settle) : "not sent"}`);
    for (const w of advs) {
      const s = await chain.reader.peerStatus(w.address);
      const rep = await chain.reputationLog(w.address);
      b.check(s.banned && rep.some((e) => e.reason === 8 && e.to < e.from), `B: ${short(w.address)} banned ${s.banned}, reputation ${repText(rep)}`);
    }
    b.check(true, "B: note: allow-list mode has no bonds to slash (BondSlashed amount 0); the forged CID stays the round's record (by design) and a next round would build on it");
  } finally {
    await store?.stop().catch(() => undefined);
    await runB.handle.stop();
  }
  return { name: "wrong-aggregate", held: a.held && b.held, detail: `${a.detail()} || ${b.detail()}` };
}

// --------------------------------------------------------------------- sybil scenarios (own task)

/**
 * Deploys a second FederatedTask on the demo's chain with the Ignition module's defaults
 * (TASK_DEFAULTS) plus `overrides` — runDemo cannot set committee sizes — and starts honest agents
 * for it on Hardhat accounts `accounts`, against the demo's creator IPFS node (same model spec and
 * initial model).
 */
async function customTask(handle: DemoHandle, overrides: Record<string, number>, accounts: number[], workDir: string): Promise<{ chain: ChainView; agents: ManagedProcess[] }> {
  const base = new ChainView(handle.rpcUrl, handle.contractAddress);
  const cfg = await base.reader.taskConfig();
  const { abi, bytecode } = loadTaskArtifact();
  const initiator = hardhatAccount(0).connect(base.provider);
  const deployed = await new ContractFactory(abi, bytecode, initiator).deploy(initiator.address);
  await deployed.waitForDeployment();
  const address = await deployed.getAddress();
  const chain = new ChainView(handle.rpcUrl, address);
  const config = { modelSpecCid: cfg.modelSpecCid, initialModelCid: cfg.initialModelCid, ...TASK_DEFAULTS, ...overrides };
  await (await chain.initiator.configureTask(config)).wait();
  await (await chain.initiator.admit(accounts.map((i) => hardhatAccount(i).address))).wait();
  mkdirSync(workDir, { recursive: true });
  const relay = await freePort(9700 + ((Number(new URL(handle.rpcUrl).port) + 37) % 100) * 10);
  const agents = accounts.map((acc, i) => startProcess({
    name: `cpeer${i}`, cmd: process.execPath, cwd: PROJECT_ROOT, logFile: path.join(workDir, `cpeer${i}.log`), env: { PEERFL_PRIVATE_KEY: undefined },
    args: [
      "--import", "tsx", path.join(PROJECT_ROOT, "node/cli.ts"), "agent", "--rpc", handle.rpcUrl, "--contract", address, "--account", String(acc),
      "--peers", String(accounts.length), "--peer-index", String(i), "--dataset", "mnist", "--partition", "iid", "--epochs", "1",
      "--data-dir", path.join(workDir, `cpeer${i}`), "--log-format", "json", "--name", `cpeer${i}`, "--relay-base-port", String(relay),
      "--max-samples", "500", "--stay", ...handle.creatorMultiaddrs.flatMap((m) => ["--ipfs-peer", m]),
    ],
  }));
  return { chain, agents };
}

/**
 * sybil-quorum and sybil-verdict, on one run: fresh wallets try the demo's task (allow-list); then a
 * second task with committees of 3 (verifiers and aggregators) drawn from 4 honest agents + one
 * admitted adversary wallet S1 (verifier+aggregator), plus S2, admitted but registered after the
 * pools froze. S1 votes first (reject everything) and reveals a forged aggregate when drawn.
 */
export async function sybil(port: number): Promise<ScenarioResult[]> {
  const q = new Checks(), v = new Checks();
  const fresh = Array.from({ length: 3 }, () => Wallet.createRandom());
  const demoTries: { register: Outcome; commit: Outcome; aggregate: Outcome }[] = [];
  // Two admitted adversary wallets (accounts 7, 8) join the demo's verifier pool (committee = all 6)
  // and vote first, rejecting every update: 2 votes of 6 cannot reach a majority of the SIZE (> 3).
  const fast = [hardhatAccount(7), hardhatAccount(8)];
  const fastVotes: { commit?: Outcome; reveal?: Outcome }[] = fast.map(() => ({}));
  let demoChain: ChainView | undefined;
  const { handle, workDir } = await withAdversary("sybil", port, {}, async ({ chain }) => {
    demoChain = chain;
    for (const w of fast) await attempt(chain.as(w), "registerPeer", [VERIFIER, "/ip4/127.0.0.1/tcp/9", ZeroHash]);
    await chain.fund(fresh.map((w) => w.address));
    for (const w of fresh) {
      const me = chain.as(w);
      demoTries.push({
        register: await attempt(me, "registerPeer", [ALL_ROLES, "/ip4/127.0.0.1/tcp/9", ZeroHash]),
        commit: await attempt(me, "commitUpdate", [1, (await orphanCid()).bytes, 100]),
        aggregate: await attempt(me, "commitAggregate", [1, keccak256(randomBytes(32))]),
      });
    }
    await waitPhase(chain, 1, Phase.VerifyCommit);
    const salts = fast.map(() => randomSalt());
    for (const [k, w] of fast.entries()) fastVotes[k].commit = await attempt(chain.as(w), "commitVerdict", [1, verdictCommitment(chain.address, 1, w.address, 0n, salts[k])]);
    await waitPhase(chain, 1, Phase.VerifyReveal);
    for (const [k, w] of fast.entries()) fastVotes[k].reveal = await attempt(chain.as(w), "revealVerdict", [1, 0n, salts[k]]);
  });
  {
    const chain = demoChain!;
    const st = await chain.round(1);
    const members = popcount(BigInt((await chain.reader.getCommittees(1)).verifierCommittee));
    const reps = await Promise.all(fast.map((w) => chain.reputationLog(w.address)));
    v.check(fastVotes.every((x) => x.commit?.ok && x.reveal?.ok), `demo task: 2 admitted wallets in the verifier committee of ${members} committed + revealed "reject all" before the honest verifiers`);
    v.check(st.phase === Phase.Finalized && await allHonestAccepted(chain, 1, 4), `demo task: every honest update accepted (a bit needs > ${members}/2 votes), round ${st.phase === Phase.Finalized ? "finalized" : `phase ${st.phase}`}`);
    v.check(reps.every((r) => r.some((e) => e.reason === 3 && e.to < e.from)), `demo task: their reputation ${reps.map(repText).join(" / ")}`);
  }
  let agents: ManagedProcess[] = [];
  let store: EmbeddedStore | undefined;
  try {
    q.check(demoTries.length === 3 && demoTries.every((t) => !t.register.ok && t.register.error === "NotAdmitted"),
      `3 fresh wallets registerPeer on the allow-list task: ${[...new Set(demoTries.map((t) => show(t.register)))].join("/")}`);
    q.check(demoTries.every((t) => !t.commit.ok && !t.aggregate.ok),
      `their commitUpdate / commitAggregate of a random CID: ${[...new Set(demoTries.map((t) => `${show(t.commit)}/${show(t.aggregate)}`))].join(", ")}`);
    // The demo's own agents are done; free the CPU for the committee task's agents.
    await Promise.all(handle.agents.map((a) => a.stop(3000)));
    const honest = [11, 12, 13, 14];
    const s1 = hardhatAccount(15), s2 = hardhatAccount(16);
    const custom = await customTask(handle, {
      rounds: 1, trainingDuration: 120, verificationDuration: 40, aggregationDuration: 40, verifierCommitteeSize: 3, aggregatorCommitteeSize: 3,
    }, honest, path.join(workDir, "committee-task"));
    agents = custom.agents;
    const chain = custom.chain;
    await (await chain.initiator.admit([s1.address, s2.address])).wait();
    await waitUntil("the committee task's agents to register", async () => Number(await chain.reader.peerCount()) >= honest.length, 180_000, 500);
    const regS1 = await attempt(chain.as(s1), "registerPeer", [VERIFIER | AGGREGATOR, "/ip4/127.0.0.1/tcp/9", ZeroHash]);
    await (await chain.initiator.startTask()).wait();
    const freshHere = await attempt(chain.as(fresh[0]), "registerPeer", [ALL_ROLES, "/ip4/127.0.0.1/tcp/9", ZeroHash]);
    await waitPhase(chain, 1, Phase.VerifyCommit, 300_000);
    const regS2 = await attempt(chain.as(s2), "registerPeer", [VERIFIER | AGGREGATOR, "/ip4/127.0.0.1/tcp/9", ZeroHash]); // pools are frozen
    const com = await waitUntil("committees", async () => { const x = await chain.reader.getCommittees(1); return x.verifierCommittee !== 0n ? x : undefined; }, 60_000);
    const vSize = popcount(BigInt(com.verifierCommittee)), aSize = popcount(BigInt(com.aggregatorCommittee));
    const s1Verifier = await chain.reader.isVerifier(1, s1.address);
    const s2Verdict = await attempt(chain.as(s2), "commitVerdict", [1, keccak256(randomBytes(32))]);
    const vSalt = randomSalt();
    const s1Verdict = await attempt(chain.as(s1), "commitVerdict", [1, verdictCommitment(chain.address, 1, s1.address, 0n, vSalt)]); // reject everything, first
    await waitPhase(chain, 1, Phase.VerifyReveal);
    const s1Reveal = s1Verdict.ok ? await attempt(chain.as(s1), "revealVerdict", [1, 0n, vSalt]) : undefined;
    const st1 = await waitPhase(chain, 1, Phase.AggregateCommit);
    const aggPhase = st1.phase === Phase.AggregateCommit;
    const s1Aggregator = await chain.reader.isAggregator(1, s1.address);
    const s2Aggregate = aggPhase ? await attempt(chain.as(s2), "commitAggregate", [1, keccak256(randomBytes(32))]) : undefined;
    const forged = await orphanCid();
    const aSalt = randomSalt();
    const s1Aggregate = aggPhase ? await attempt(chain.as(s1), "commitAggregate", [1, aggregateCommitment(chain.address, 1, s1.address, forged, 9999, 0, aSalt)]) : undefined;
    if (aggPhase) await waitPhase(chain, 1, Phase.AggregateReveal);
    const s1AggReveal = s1Aggregate?.ok ? await attempt(chain.as(s1), "revealAggregate", [1, forged.bytes, 9999, 0, aSalt]) : undefined;
    const fin = await waitUntil("the committee round to close", async () => { const s = await chain.round(1); return closed(s.phase) ? s : undefined; }, 180_000);
    const failed = await chain.reader.queryFilter(chain.reader.filters.RoundFailed(1), 0);
    const failReason = failed.length ? Number((failed[0] as unknown as { args: unknown[] }).args[1]) : 0;
    const quorumBps = Number((await chain.reader.taskConfig()).aggregatorQuorumBps);
    const rep1 = await chain.reputationLog(s1.address);
    store = await adversaryStore(path.join(workDir, "auditor-ipfs"), chain, handle.creatorMultiaddrs);
    const au = fin.phase === Phase.Finalized ? await audit(chain, store, handle.creatorMultiaddrs, 1) : undefined;
    const honestOk = await allHonestAccepted(chain, 1, 4, 11);

    q.check(!freshHere.ok && freshHere.error === "NotAdmitted", `fresh wallet on the committee task: ${show(freshHere)}`);
    q.check(regS1.ok && regS2.ok, `admitted S1 (before the pools froze) and S2 (after) registered as verifier+aggregator`);
    q.check(aSize === 3, `aggregator committee: ${aSize} of a pool of 5 (S1 ${s1Aggregator ? "drawn" : "not drawn"})`);
    q.check(s2Aggregate !== undefined && !s2Aggregate.ok && s2Aggregate.error === "NotInCommittee", `S2 (outside the committee) commitAggregate: ${s2Aggregate ? show(s2Aggregate) : "phase skipped"}`);
    if (s1Aggregator) {
      q.check(Boolean(s1Aggregate?.ok && s1AggReveal?.ok), `S1 (drawn) committed + revealed a forged CID`);
      q.check(rep1.some((e) => e.reason === 6 && e.to < e.from), `S1 reputation for the forged aggregate: ${repText(rep1.filter((e) => e.reason >= 5))}${fin.phase === Phase.Failed ? " (a failed round penalizes no dissenting reveal)" : ""}`);
    } else {
      q.check(s1Aggregate !== undefined && !s1Aggregate.ok && s1Aggregate.error === "NotInCommittee", `S1 (not drawn) commitAggregate: ${s1Aggregate ? show(s1Aggregate) : "phase skipped"}`);
    }
    // Can the honest members finalize when ONE seat is the adversary's? leaderReveals x 10000 >= quorumBps x size.
    const honestSeats = aSize - 1;
    q.check(honestSeats * 10000 >= quorumBps * aSize,
      `one adversary seat ${honestSeats * 10000 >= quorumBps * aSize ? "cannot" : "CAN"} veto: ${honestSeats} honest of ${aSize} x 10000 = ${honestSeats * 10000} vs quorum ${quorumBps} bps x ${aSize} = ${quorumBps * aSize}`);
    q.check(fin.phase === Phase.Finalized && au?.ok === true, `committee round ${fin.phase === Phase.Finalized ? "finalized" : `FAILED (reason ${failReason})`}${fin.phase === Phase.Finalized ? ` on the honest CID (audit ${au?.ok ? "reproduces it" : au?.differences.join(" | ") ?? "not run"})` : ""}`);

    v.check(vSize === 3, `verifier committee: ${vSize} of a pool of 5 (S1 ${s1Verifier ? "drawn" : "not drawn"}); a mask bit needs > 3/2 = 2 votes`);
    v.check(!s2Verdict.ok && s2Verdict.error === "NotInCommittee", `S2 (registered after the pools froze) commitVerdict: ${show(s2Verdict)}`);
    if (s1Verifier) {
      v.check(s1Verdict.ok && Boolean(s1Reveal?.ok), `S1 voted first (commit + reveal, mask 0 = reject every update)`);
      v.check(rep1.some((e) => e.reason === 3 && e.to < e.from), `S1 reputation for the outvoted verdict: ${repText(rep1.filter((e) => e.reason <= 4))}`);
    } else {
      v.check(!s1Verdict.ok && s1Verdict.error === "NotInCommittee", `S1 (not drawn) commitVerdict: ${show(s1Verdict)}`);
    }
    v.check(honestOk, `committee task: every honest update accepted${s1Verifier ? " despite S1's early reject-all vote (counted against the committee size, not the votes cast)" : ""}`);
    v.check(fin.phase === Phase.Finalized || failReason === 3, `committee task: verification closed on the honest mask (round ${fin.phase === Phase.Finalized ? "finalized" : `failed later, reason ${failReason}: aggregation, see sybil-quorum`})`);
  } finally {
    await store?.stop().catch(() => undefined);
    await Promise.all(agents.map((p) => p.stop(3000)));
    await handle.stop();
  }
  return [
    { name: "sybil-quorum", held: q.held, detail: q.detail() },
    { name: "sybil-verdict", held: v.held, detail: v.detail() },
  ];
}

function popcount(x: bigint): number {
  let n = 0;
  for (; x > 0n; x >>= 1n) n += Number(x & 1n);
  return n;
}

// ------------------------------------------------------------------------------ main

export const SCENARIOS: { names: string[]; port: number; run: (port: number) => Promise<ScenarioResult | ScenarioResult[]> }[] = [
  { names: ["sybil-quorum", "sybil-verdict"], port: 18611, run: sybil },
  { names: ["cid-replay"], port: 18621, run: cidReplay },
  { names: ["sample-inflation"], port: 18631, run: sampleInflation },
  { names: ["revoke-rejoin"], port: 18641, run: revokeRejoin },
  { names: ["lazy-copy"], port: 18651, run: lazyCopy },
  { names: ["withheld-update"], port: 18661, run: withheldUpdate },
  { names: ["wrong-aggregate"], port: 18671, run: wrongAggregate },
];

export function formatTable(rows: ScenarioResult[]): string {
  const w = Math.max(...rows.map((r) => r.name.length), 8);
  return [
    `${"scenario".padEnd(w)}  held   detail`,
    ...rows.map((r) => `${r.name.padEnd(w)}  ${String(r.held).padEnd(5)}  ${r.detail}`),
  ].join("\n");
}

async function main(): Promise<void> {
  const only = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const started = Date.now();
  const rows: ScenarioResult[] = [];
  for (const s of SCENARIOS) {
    if (only.length && !s.names.some((n) => only.includes(n))) continue;
    const t0 = Date.now();
    process.stdout.write(`${s.names.join(" + ")} ... `);
    try {
      const r = await s.run(s.port);
      rows.push(...(Array.isArray(r) ? r : [r]));
    } catch (err) {
      for (const name of s.names) rows.push({ name, held: false, detail: `the scenario could not run to the end: ${(err as Error).message.split("\n")[0]}` });
    }
    process.stdout.write(`${Math.round((Date.now() - t0) / 1000)} s\n`);
  }
  mkdirSync(path.dirname(RESULTS), { recursive: true });
  // A run of some scenarios replaces their rows and keeps the others' from the last full run.
  let all = rows;
  if (only.length && existsSync(RESULTS)) {
    const old = (JSON.parse(readFileSync(RESULTS, "utf8")) as { scenarios: ScenarioResult[] }).scenarios;
    const order = SCENARIOS.flatMap((s) => s.names);
    all = order.flatMap((n) => rows.filter((r) => r.name === n).concat(rows.some((r) => r.name === n) ? [] : old.filter((r) => r.name === n)));
  }
  writeFileSync(RESULTS, JSON.stringify({ scenarios: all }, null, 2) + "\n");
  console.log("\n" + formatTable(rows));
  console.log(`\n${rows.filter((r) => r.held).length}/${rows.length} held; ${Math.round((Date.now() - started) / 1000)} s; wrote ${path.relative(process.cwd(), RESULTS)}`);
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
