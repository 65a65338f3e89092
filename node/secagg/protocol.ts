/**
 * One private round, as pure functions (Bonawitz et al. 2017 with SecAgg+ neighbourhoods, Bell et
 * al. 2020). No chain, no network: the roles feed these from chain + IPFS, the audit does the same.
 *
 *   setup    u: ephemeral key pair c_u, self-mask seed b_u; Shamir-share both among N(u) with
 *               threshold t; encrypt each holder's pair of shares; publish commitments.
 *   mask     u: y_u = q_u + PRG(b_u) + Σ_{v∈N(u)∩P, v>u} PRG(s_uv) − Σ_{v∈N(u)∩P, v<u} PRG(s_uv)  (mod 2^32)
 *               where P = peers that posted setup on chain and s_uv = HKDF(X25519(c_u, c_v)).
 *   reveal   v: for each owner u ∈ N(v)∩P: the share of b_u if u committed, else the share of c_u.sk
 *               (the commit status is read from the chain, the same for everyone; never both).
 *   unmask   anyone: Σ_{u∈C} y_u − Σ_{u∈C} PRG(b_u) − (dangling pairwise masks of u ∈ P\C).
 */
import type { SecAggConfig } from "./config.ts";
import { hex, unhex, type RevealBundle, type RevealedShare, type SetupBundle } from "./codec.ts";
import { ReconstructionError, SecAggConfigError, ShareDecryptionError, UnmaskError } from "./errors.ts";
import { ephemeralKeyPair, pairwiseSeed, publicKeyOf, selfMaskKey, shareKey, type RoundContext } from "./keys.ts";
import { effectiveThreshold, neighboursOf } from "./neighbours.ts";
import { addPrg } from "./prg.ts";
import { combineShares, randomSecret, sharesConsistent, splitSecret, type Share } from "./shamir.ts";
import { decryptShares, encryptShares, shareCommitment, type SecretKind } from "./shares.ts";

/** A peer as the registry knows it: index, address, long-term X25519 public key. */
export interface PeerKey {
  index: number;
  address: string;
  publicKey: Uint8Array;
}

/** This peer: its registry entry and long-term X25519 secret key. */
export interface Me extends PeerKey {
  secretKey: Uint8Array;
}

/** What the owner keeps between setup and masking (and, persisted, across a restart). */
export interface SetupSecrets {
  selfSeed: Uint8Array;
  ephemeralSecret: Uint8Array;
  ephemeralPublic: Uint8Array;
}

/** A peer that posted setup in the round: index, address and the ephemeral public key on chain. */
export interface PostedPeer {
  index: number;
  address: string;
  ephemeralPk: Uint8Array;
}

export function createSetup(ctx: RoundContext, me: Me, population: number, config: SecAggConfig, registry: ReadonlyMap<number, PeerKey>): { bundle: SetupBundle; secrets: SetupSecrets } {
  const holders = neighboursOf(me.index, population, config.neighbours).map((i) => {
    const p = registry.get(i);
    if (!p) throw new SecAggConfigError(`neighbour ${i} of peer ${me.index} is not in the registry`);
    return p;
  });
  if (holders.length === 0) throw new SecAggConfigError("a private round needs at least 2 peers");
  const t = effectiveThreshold(config.threshold, holders.length);
  const { secretKey: ephemeralSecret, publicKey: ephemeralPublic } = ephemeralKeyPair();
  const selfSeed = randomSecret();
  const xs = holders.map((h) => h.index + 1);
  const selfShares = splitSecret(selfSeed, t, xs);
  const ephShares = splitSecret(ephemeralSecret, t, xs);
  const bundle: SetupBundle = {
    version: 1, task: ctx.task.toLowerCase(), round: ctx.round, owner: me.address.toLowerCase(), ownerIndex: me.index, population, threshold: t,
    ephemeralPk: hex(ephemeralPublic),
    holders: holders.map((h, i) => {
      const key = shareKey(ctx, me.secretKey, h.publicKey, me.address, h.address);
      const e = encryptShares(key, ctx, me.address, h.address, xs[i], { self: selfShares[i].y, ephemeral: ephShares[i].y });
      return {
        index: h.index, address: h.address.toLowerCase(), nonce: hex(e.nonce), ciphertext: hex(e.ciphertext),
        selfCommit: shareCommitment(ctx, me.address, "self", xs[i], selfShares[i].y),
        ephemeralCommit: shareCommitment(ctx, me.address, "ephemeral", xs[i], ephShares[i].y),
      };
    }),
  };
  return { bundle, secrets: { selfSeed, ephemeralSecret, ephemeralPublic } };
}

/**
 * Check a posted bundle against what everyone can compute: its owner, index, population, holder
 * set (the ring), threshold and the ephemeral key posted on chain. Returns the reason it is wrong, or null.
 */
export function setupProblem(b: SetupBundle, expected: { owner: PeerKey; population: number; ephemeralPk: Uint8Array; config: SecAggConfig }): string | null {
  if (b.owner !== expected.owner.address.toLowerCase() || b.ownerIndex !== expected.owner.index) return `bundle names ${b.owner}#${b.ownerIndex}, the poster is ${expected.owner.address}#${expected.owner.index}`;
  if (b.population !== expected.population) return `population ${b.population}, the round's is ${expected.population}`;
  if (b.ephemeralPk !== hex(expected.ephemeralPk)) return "ephemeral public key differs from the one posted on chain";
  const ring = neighboursOf(b.ownerIndex, b.population, expected.config.neighbours);
  if (b.holders.length !== ring.length || b.holders.some((h, i) => h.index !== ring[i])) return `holders ${b.holders.map((h) => h.index).join(",")} are not the neighbourhood ${ring.join(",")}`;
  if (b.threshold !== effectiveThreshold(expected.config.threshold, ring.length)) return `threshold ${b.threshold}, expected ${effectiveThreshold(expected.config.threshold, ring.length)}`;
  return null;
}

/** y_u = q_u (+ noise) + self mask ± pairwise masks with the neighbours that posted setup. */
export function maskUpdate(ctx: RoundContext, me: { index: number; address: string }, secrets: SetupSecrets, quantized: Uint32Array, postedNeighbours: readonly PostedPeer[]): Uint32Array {
  const y = Uint32Array.from(quantized);
  addPrg(y, selfMaskKey(ctx, secrets.selfSeed, me.address), 1);
  for (const v of postedNeighbours) {
    if (v.index === me.index) continue;
    addPrg(y, pairwiseSeed(ctx, secrets.ephemeralSecret, v.ephemeralPk, me.address, v.address), v.index > me.index ? 1 : -1);
  }
  return y;
}

/** Decrypt this holder's shares of `owner`'s secrets and check them against the owner's commitments. */
export function openShares(ctx: RoundContext, me: Me, owner: PeerKey, bundle: SetupBundle): { self: Share; ephemeral: Share } {
  const entry = bundle.holders.find((h) => h.index === me.index);
  if (!entry) throw new ShareDecryptionError(`peer ${me.index} is not a holder of ${owner.index}'s shares`);
  const x = me.index + 1;
  const key = shareKey(ctx, me.secretKey, owner.publicKey, owner.address, me.address);
  const s = decryptShares(key, ctx, owner.address, me.address, x, { nonce: unhex(entry.nonce, 12, "setup bundle", "nonce"), ciphertext: unhex(entry.ciphertext, 80, "setup bundle", "ciphertext") });
  if (shareCommitment(ctx, owner.address, "self", x, s.self) !== entry.selfCommit || shareCommitment(ctx, owner.address, "ephemeral", x, s.ephemeral) !== entry.ephemeralCommit) {
    throw new ShareDecryptionError(`${owner.address}'s shares for peer ${me.index} do not match its own commitments`);
  }
  return { self: { x, y: s.self }, ephemeral: { x, y: s.ephemeral } };
}

/**
 * The reveal of holder `me`: for each owner whose bundle names it, the share of b_u when u
 * committed, else the share of c_u.sk. Owners whose shares it cannot open are listed in `skipped`.
 */
export function createReveal(ctx: RoundContext, me: Me, owners: readonly { owner: PeerKey; bundle: SetupBundle; committed: boolean }[]): { bundle: RevealBundle; skipped: { ownerIndex: number; reason: string }[] } {
  const shares: RevealedShare[] = [];
  const skipped: { ownerIndex: number; reason: string }[] = [];
  for (const o of owners) {
    if (o.owner.index === me.index || !o.bundle.holders.some((h) => h.index === me.index)) continue;
    try {
      const s = openShares(ctx, me, o.owner, o.bundle);
      const secret: SecretKind = o.committed ? "self" : "ephemeral";
      shares.push({ ownerIndex: o.owner.index, secret, y: hex(secret === "self" ? s.self.y : s.ephemeral.y) });
    } catch (err) {
      skipped.push({ ownerIndex: o.owner.index, reason: (err as Error).message });
    }
  }
  return { bundle: { version: 1, task: ctx.task.toLowerCase(), round: ctx.round, revealer: me.address.toLowerCase(), revealerIndex: me.index, shares }, skipped };
}

export interface UnmaskInput {
  ctx: RoundContext;
  /** Peers that posted setup (on chain), with their bundle (null when it could not be fetched or is invalid). */
  posted: readonly (PostedPeer & { bundle: SetupBundle | null })[];
  /** Committed updates of peers that posted setup. */
  committed: readonly { index: number; numSamples: number; words: Uint32Array }[];
  /** Reveal bundles, each with the registry index of the address that posted it on chain. */
  reveals: readonly { posterIndex: number; bundle: RevealBundle }[];
  /** The task's neighbourhood size k (to know which committed peers masked with a dropped one). */
  neighbours: number;
  population: number;
}

export interface ShareUse { ownerIndex: number; secret: SecretKind; valid: number; invalid: number; threshold: number; usedFrom: number[] }

export interface UnmaskResult {
  /** Σ q_u (+ noise) mod 2^32 over the committed peers. */
  sum: Uint32Array;
  totalSamples: number;
  /** Per secret: how many valid/invalid shares, which holders' shares were used. */
  shares: ShareUse[];
  /** Revealed shares refused (wrong kind, no commitment, mismatch, unknown owner). */
  refused: { revealer: number; ownerIndex: number; reason: string }[];
}

/**
 * Remove every mask and return the sum. Shares are checked against the owner's commitments; for
 * each secret the valid shares of the lowest t holder indices are used (a canonical choice, so all
 * auditors get the same bytes). Throws UnmaskError naming every secret that cannot be recovered.
 */
export function unmaskSum(input: UnmaskInput): UnmaskResult {
  const { ctx } = input;
  const posted = new Map(input.posted.map((p) => [p.index, p]));
  const committed = new Map(input.committed.map((c) => [c.index, c]));
  const refused: UnmaskResult["refused"] = [];
  const valid = new Map<number, Share[]>();
  const invalidCount = new Map<number, number>();
  for (const r of input.reveals) {
    if (r.bundle.revealerIndex !== r.posterIndex) {
      refused.push({ revealer: r.posterIndex, ownerIndex: -1, reason: `bundle claims revealer ${r.bundle.revealerIndex}` });
      continue;
    }
    for (const s of r.bundle.shares) {
      const owner = posted.get(s.ownerIndex);
      const refuse = (reason: string) => {
        refused.push({ revealer: r.posterIndex, ownerIndex: s.ownerIndex, reason });
        invalidCount.set(s.ownerIndex, (invalidCount.get(s.ownerIndex) ?? 0) + 1);
      };
      if (!owner) { refuse("owner did not post setup"); continue; }
      const needed: SecretKind = committed.has(s.ownerIndex) ? "self" : "ephemeral";
      if (s.secret !== needed) { refuse(`revealed the ${s.secret} share, the round needs the ${needed} share`); continue; }
      const entry = owner.bundle?.holders.find((h) => h.index === r.posterIndex);
      if (!entry) { refuse("revealer is not a holder of this owner's shares"); continue; }
      const x = r.posterIndex + 1;
      const y = unhex(s.y, 32, "reveal bundle", "y");
      const commit = needed === "self" ? entry.selfCommit : entry.ephemeralCommit;
      if (shareCommitment(ctx, owner.address, needed, x, y) !== commit) { refuse("share does not match the owner's commitment"); continue; }
      const list = valid.get(s.ownerIndex) ?? [];
      if (!list.some((e) => e.x === x)) list.push({ x, y });
      valid.set(s.ownerIndex, list);
    }
  }

  const count = input.committed[0]?.words.length ?? 0;
  const sum = new Uint32Array(count);
  for (const c of input.committed) {
    if (!posted.has(c.index)) throw new UnmaskError(ctx.round, [`peer ${c.index} committed without posting setup`]);
    if (c.words.length !== count) throw new UnmaskError(ctx.round, [`peer ${c.index}'s update has ${c.words.length} coordinates, others ${count}`]);
    for (let i = 0; i < count; i++) sum[i] = (sum[i] + c.words[i]) >>> 0;
  }

  const reasons: string[] = [];
  const uses: ShareUse[] = [];
  for (const p of [...posted.values()].sort((a, b) => a.index - b.index)) {
    const isCommitted = committed.has(p.index);
    const secret: SecretKind = isCommitted ? "self" : "ephemeral";
    // A dropped peer with no committed neighbour left no mask in the sum: nothing to remove.
    const ring = neighboursOf(p.index, input.population, input.neighbours);
    const committedNeighbours = ring.filter((w) => committed.has(w));
    if (!isCommitted && committedNeighbours.length === 0) continue;
    if (!p.bundle) { reasons.push(`peer ${p.index}'s setup bundle is unavailable or invalid, so its ${secret} secret cannot be recovered`); continue; }
    const shares = (valid.get(p.index) ?? []).sort((a, b) => a.x - b.x);
    const t = p.bundle.threshold;
    uses.push({ ownerIndex: p.index, secret, valid: shares.length, invalid: invalidCount.get(p.index) ?? 0, threshold: t, usedFrom: shares.slice(0, t).map((s) => s.x - 1) });
    if (shares.length < t) {
      reasons.push(`peer ${p.index} ${isCommitted ? "committed" : "dropped"}: ${shares.length} valid share(s) of its ${secret} secret, threshold ${t}`);
      continue;
    }
    if (!sharesConsistent(shares, t)) {
      reasons.push(`peer ${p.index}: its ${shares.length} valid shares do not lie on one polynomial (the owner dealt inconsistent shares)`);
      continue;
    }
    let secretBytes: Uint8Array;
    try {
      secretBytes = combineShares(shares, t);
    } catch (err) {
      reasons.push(`peer ${p.index}: ${(err as ReconstructionError).message}`);
      continue;
    }
    if (isCommitted) {
      addPrg(sum, selfMaskKey(ctx, secretBytes, p.address), -1);
    } else {
      if (hex(publicKeyOf(secretBytes)) !== hex(p.ephemeralPk)) {
        reasons.push(`peer ${p.index}: the reconstructed ephemeral key does not match its posted public key (inconsistent shares)`);
        continue;
      }
      // Each committed neighbour w added +PRG(s_wp) when p > w, −PRG(s_wp) when p < w: take it back out.
      for (const w of committedNeighbours) {
        const wp = posted.get(w)!;
        addPrg(sum, pairwiseSeed(ctx, secretBytes, wp.ephemeralPk, p.address, wp.address), p.index > w ? -1 : 1);
      }
    }
  }
  if (reasons.length > 0) throw new UnmaskError(ctx.round, reasons);
  const totalSamples = input.committed.reduce((s, c) => s + c.numSamples, 0);
  return { sum, totalSamples, shares: uses, refused };
}
