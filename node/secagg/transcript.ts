/**
 * A private round's public transcript, gathered from the chain and IPFS, and the sum it unmasks to.
 * One code path for everyone who needs the sum: the verifiers (candidate aggregate), the
 * aggregators (the aggregate they commit) and the audit (recomputing it bit for bit). The chain and
 * the content store are injected, so the same code runs on an agent's TaskChain + Helia and on the
 * explorer's read-only views.
 *
 * Who is in the sum: every commit whose trainer posted setup on the side contract. A commit by a
 * peer that did not post setup cannot be unmasked and is never part of the sum (verifiers vote 0 on
 * it). A committed update that cannot be fetched or decoded makes the round un-unmaskable: its
 * masks are in the sum and, having committed, its ephemeral key is not revealed.
 */
import type { CID } from "multiformats/cid";
import { decodeMaskedUpdate, decodeRevealBundle, decodeSetupBundle, maskedUpdateBytes, type RevealBundle, type SetupBundle } from "./codec.ts";
import type { SecAggConfig } from "./config.ts";
import { UnmaskError } from "./errors.ts";
import type { RoundContext } from "./keys.ts";
import { setupProblem, unmaskSum, type PeerKey, type PostedPeer, type UnmaskResult } from "./protocol.ts";
import type { SecAggReader } from "./chain.ts";
import { applySum } from "./quantize.ts";

export const MAX_SETUP_BUNDLE_BYTES = 1 << 20;
export const MAX_REVEAL_BUNDLE_BYTES = 1 << 18;

export interface TranscriptSource {
  task: string;
  config: SecAggConfig;
  /** Parameters of the task's model (the masked update's coordinate count). */
  paramCount: number;
  secagg: Pick<SecAggReader, "roundState" | "setups" | "reveals">;
  /** The round's commits on the task contract, in commit order. */
  commits(round: number): Promise<{ index: number; trainer: string; cid: CID; numSamples: number }[]>;
  /** Registered peers (index, address, long-term public key as 0x-hex). */
  peers(): Promise<{ peerIndex: number; address: string; publicKey: string }[]>;
  /** Bytes behind a CID, at most maxBytes (throws when unavailable or larger). */
  fetch(cid: CID, maxBytes: number): Promise<Uint8Array>;
}

export interface TranscriptCommit {
  commitIndex: number;
  trainer: string;
  peerIndex: number | null;
  cid: string;
  numSamples: number;
  /** The commit's trainer posted setup: its update is in the sum. */
  inSum: boolean;
  problem: string | null;
}

export interface RoundTranscript {
  ctx: RoundContext;
  population: number;
  posted: (PostedPeer & { bundle: SetupBundle | null; problem: string | null })[];
  commits: TranscriptCommit[];
  /** Bit i = commit i is in the sum. */
  sumMask: bigint;
  reveals: { posterIndex: number; bundle: RevealBundle }[];
  revealProblems: { posterIndex: number; problem: string }[];
  /** Decoded masked updates of the commits in the sum (missing when unusable). */
  masked: Map<number, Uint32Array>;
}

const text = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Read and check everything public about `round`'s secure aggregation. Fetched bytes are cached in `cache`. */
export async function collectTranscript(src: TranscriptSource, round: number, cache = new Map<string, Uint8Array>()): Promise<RoundTranscript> {
  const ctx: RoundContext = { task: src.task.toLowerCase(), round };
  const fetchCached = async (cid: CID, max: number) => {
    const key = cid.toString();
    const hit = cache.get(key);
    if (hit) return hit;
    const bytes = await src.fetch(cid, max);
    cache.set(key, bytes);
    return bytes;
  };
  const [state, registry, commitsOnChain] = await Promise.all([src.secagg.roundState(round), src.peers(), src.commits(round)]);
  const byIndex = new Map<number, PeerKey>(registry.map((p) => [p.peerIndex, { index: p.peerIndex, address: p.address, publicKey: Uint8Array.from(Buffer.from(p.publicKey.slice(2), "hex")) }]));
  const indexOf = new Map(registry.map((p) => [p.address.toLowerCase(), p.peerIndex]));

  const setups = await src.secagg.setups(round, state.setupMask);
  const posted = await Promise.all(setups.map(async (s) => {
    const owner = byIndex.get(s.index);
    const base = { index: s.index, address: owner?.address ?? "", ephemeralPk: s.ephemeralPk };
    if (!owner) return { ...base, bundle: null, problem: `peer ${s.index} is not in the registry` };
    try {
      const bundle = decodeSetupBundle(await fetchCached(s.bundleCid, MAX_SETUP_BUNDLE_BYTES), ctx);
      const problem = setupProblem(bundle, { owner, population: state.population, ephemeralPk: s.ephemeralPk, config: src.config });
      return { ...base, bundle: problem ? null : bundle, problem };
    } catch (err) {
      return { ...base, bundle: null, problem: `setup bundle ${s.bundleCid}: ${text(err)}` };
    }
  }));
  const postedSet = new Set(posted.map((p) => p.index));

  const masked = new Map<number, Uint32Array>();
  let sumMask = 0n;
  const commits = await Promise.all(commitsOnChain.map(async (c): Promise<TranscriptCommit> => {
    const peerIndex = indexOf.get(c.trainer.toLowerCase()) ?? null;
    const inSum = peerIndex !== null && postedSet.has(peerIndex);
    const out: TranscriptCommit = { commitIndex: c.index, trainer: c.trainer, peerIndex, cid: c.cid.toString(), numSamples: c.numSamples, inSum, problem: null };
    if (!inSum) { out.problem = "the trainer did not post setup: its update cannot be unmasked and is not in the sum"; return out; }
    try {
      const m = decodeMaskedUpdate(await fetchCached(c.cid, maskedUpdateBytes(src.paramCount)), { task: ctx.task, round, ownerIndex: peerIndex!, count: src.paramCount });
      masked.set(c.index, m.words);
    } catch (err) {
      out.problem = `masked update ${c.cid}: ${text(err)}`;
    }
    return out;
  }));
  for (const c of commits) if (c.inSum) sumMask |= 1n << BigInt(c.commitIndex);

  const revealProblems: RoundTranscript["revealProblems"] = [];
  const reveals = (await Promise.all((await src.secagg.reveals(round, state.revealMask)).map(async (r) => {
    try {
      return { posterIndex: r.index, bundle: decodeRevealBundle(await fetchCached(r.cid, MAX_REVEAL_BUNDLE_BYTES), ctx) };
    } catch (err) {
      revealProblems.push({ posterIndex: r.index, problem: `reveal bundle ${r.cid}: ${text(err)}` });
      return null;
    }
  }))).filter((r): r is NonNullable<typeof r> => r !== null);

  return { ctx, population: state.population, posted, commits, sumMask, reveals, revealProblems, masked };
}

/** Unmask the transcript's sum. Throws UnmaskError (with every reason) when it cannot be done. */
export function unmaskTranscript(t: RoundTranscript, config: SecAggConfig): UnmaskResult {
  const unusable = t.commits.filter((c) => c.inSum && !t.masked.has(c.commitIndex));
  if (t.commits.every((c) => !c.inSum)) throw new UnmaskError(t.ctx.round, ["no commit of a peer that posted setup"]);
  if (unusable.length > 0) throw new UnmaskError(t.ctx.round, unusable.map((c) => `commit ${c.commitIndex} by peer ${c.peerIndex}: ${c.problem}`));
  return unmaskSum({
    ctx: t.ctx,
    posted: t.posted,
    committed: t.commits.filter((c) => c.inSum).map((c) => ({ index: c.peerIndex!, numSamples: c.numSamples, words: t.masked.get(c.commitIndex)! })),
    reveals: t.reveals,
    neighbours: config.neighbours,
    population: t.population,
  });
}

/** The round's aggregate: the global model plus the unmasked sum over the public total of numSamples. */
export function privateAggregate(global: Float32Array, result: UnmaskResult, config: SecAggConfig): Float32Array {
  return applySum(global, result.sum, result.totalSamples, config.scaleBits);
}
