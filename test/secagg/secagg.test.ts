import { expect } from "chai";
import { randomBytes } from "node:crypto";
import {
  FIELD_PRIME, SecAggConfigError, SecAggFormatError, ShareDecryptionError, UnmaskError, ReconstructionError,
  applySum, combineShares, createReveal, createSetup, decodeMaskedUpdate, decodeRevealBundle, decodeSetupBundle, decryptShares,
  encodeMaskedUpdate, encodeRevealBundle, encodeSetupBundle, encryptShares, hex, maskUpdate, neighboursOf, openShares, prgWords,
  quantize, randomSecret, setupProblem, sharesConsistent, shareCommitment, shareKey, splitSecret, toSigned, unhex, unmaskSum, validateSecAggConfig,
  type Me, type PeerKey, type RevealBundle, type SecAggConfig, type SetupBundle, type SetupSecrets,
} from "../../node/secagg/index.ts";
import { x25519 } from "@noble/curves/ed25519.js";

const ctx = { task: "0x" + "ab".repeat(20), round: 3 };
const D = 1000;

function isProbablePrime(n: bigint): boolean {
  const pow = (b: bigint, e: bigint, m: bigint) => { let r = 1n; b %= m; while (e > 0n) { if (e & 1n) r = (r * b) % m; b = (b * b) % m; e >>= 1n; } return r; };
  let d = n - 1n, s = 0;
  while (!(d & 1n)) { d >>= 1n; s++; }
  for (const a of [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n]) {
    let x = pow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    let ok = false;
    for (let i = 1; i < s && !ok; i++) { x = (x * x) % n; ok = x === n - 1n; }
    if (!ok) return false;
  }
  return true;
}

function makePeers(n: number): Me[] {
  return Array.from({ length: n }, (_, i) => {
    const secretKey = x25519.utils.randomSecretKey();
    return { index: i, address: "0x" + (i + 1).toString(16).padStart(40, "0"), secretKey, publicKey: x25519.getPublicKey(secretKey) };
  });
}

const config = (o: Partial<SecAggConfig> = {}): SecAggConfig => ({ range: 100, scaleBits: 12, neighbours: 4, threshold: 3, noiseStd: 0, ...o });

/** A whole round in memory: setup, mask (the given committers), reveal (the given survivors), unmask. */
function runRound(n: number, cfg: SecAggConfig, committers: number[], survivors: number[], tamper?: (r: RevealBundle[]) => void) {
  const peers = makePeers(n);
  const registry = new Map<number, PeerKey>(peers.map((p) => [p.index, p]));
  const setups = peers.map((p) => createSetup(ctx, p, n, cfg, registry));
  const posted = peers.map((p, i) => ({ index: p.index, address: p.address, ephemeralPk: setups[i].secrets.ephemeralPublic, bundle: setups[i].bundle }));
  const updates = peers.map((_, i) => Float64Array.from({ length: D }, (_, k) => Math.sin(i * 7 + k) * 50));
  const committed = committers.map((i) => {
    const q = quantize(updates[i], cfg).values;
    const ring = new Set(neighboursOf(i, n, cfg.neighbours));
    return { index: i, numSamples: 100 + i, words: maskUpdate(ctx, peers[i], setups[i].secrets, q, posted.filter((p) => ring.has(p.index))) };
  });
  const reveals = survivors.map((i) => ({
    posterIndex: i,
    bundle: createReveal(ctx, peers[i], posted.map((p) => ({ owner: registry.get(p.index)!, bundle: p.bundle, committed: committers.includes(p.index) }))).bundle,
  }));
  tamper?.(reveals.map((r) => r.bundle));
  const expected = new Uint32Array(D);
  for (const i of committers) { const q = quantize(updates[i], cfg).values; for (let k = 0; k < D; k++) expected[k] = (expected[k] + q[k]) >>> 0; }
  return { peers, setups, posted, committed, reveals, expected, run: () => unmaskSum({ ctx, posted, committed, reveals, neighbours: cfg.neighbours, population: n }) };
}

describe("secagg: field and Shamir sharing", () => {
  it("uses a prime field just below 2^256", () => {
    expect(isProbablePrime(FIELD_PRIME)).to.equal(true);
    expect(FIELD_PRIME < 2n ** 256n).to.equal(true);
  });

  it("reconstructs from exactly t shares, any t of them, and not from t-1", () => {
    const secret = randomSecret();
    const shares = splitSecret(secret, 4, [1, 2, 5, 9, 12, 30]);
    expect(hex(combineShares(shares.slice(0, 4), 4))).to.equal(hex(secret));
    expect(hex(combineShares([shares[5], shares[1], shares[3], shares[2]], 4))).to.equal(hex(secret));
    expect(() => combineShares(shares.slice(0, 3), 4)).to.throw(ReconstructionError, /need 4 shares, have 3/);
    // t-1 shares interpolated as if t-1 were the threshold give an unrelated value.
    expect(hex(combineShares(shares.slice(0, 3), 3))).to.not.equal(hex(secret));
  });

  it("detects shares dealt from two different polynomials", () => {
    const a = splitSecret(randomSecret(), 3, [1, 2, 3, 4, 5]);
    const b = splitSecret(randomSecret(), 3, [1, 2, 3, 4, 5]);
    expect(sharesConsistent(a, 3)).to.equal(true);
    expect(sharesConsistent([a[0], a[1], a[2], b[3]], 3)).to.equal(false);
  });

  it("refuses bad evaluation points and thresholds", () => {
    expect(() => splitSecret(randomSecret(), 3, [1, 2])).to.throw(SecAggConfigError, /threshold 3 among 2/);
    expect(() => splitSecret(randomSecret(), 2, [1, 1, 2])).to.throw(SecAggConfigError, /distinct/);
    expect(() => splitSecret(randomSecret(), 2, [0, 1])).to.throw(SecAggConfigError);
  });
});

describe("secagg: PRG, quantization, neighbourhoods, config", () => {
  it("the PRG is the ChaCha20 keystream: deterministic per key, different across keys", () => {
    const k1 = randomBytes(32), k2 = randomBytes(32);
    expect(Array.from(prgWords(k1, 64))).to.deep.equal(Array.from(prgWords(k1, 64)));
    expect(Array.from(prgWords(k1, 64))).to.not.deep.equal(Array.from(prgWords(k2, 64)));
    // RFC 8439 §2.3.2-style check: all-zero key and nonce, block 0 starts 76 b8 e0 ad.
    expect(prgWords(new Uint8Array(32), 1)[0]).to.equal(0xade0b876);
  });

  it("quantizes with clipping to ±range and decodes sums of negatives exactly", () => {
    const q = quantize([1.5, -2.25, 1e9, -1e9], { range: 10, scaleBits: 4 });
    expect(q.clipped).to.equal(2);
    expect(Array.from(toSigned(q.values))).to.deep.equal([24, -36, 160, -160]);
    const g = new Float32Array([1, 1, 1, 1]);
    expect(Array.from(applySum(g, q.values, 2, 4))).to.deep.equal([1.75, -0.125, 6, -4]);
    expect(() => quantize([NaN], { range: 1, scaleBits: 1 })).to.throw(RangeError, /non-finite/);
  });

  it("the neighbourhood is a symmetric k-regular ring, the complete graph when n-1 <= k", () => {
    for (const [n, k] of [[20, 4], [9, 6], [5, 8], [8, 8]]) {
      for (let u = 0; u < n; u++) {
        const nu = neighboursOf(u, n, k);
        expect(nu.length).to.equal(Math.min(k, n - 1));
        expect(nu).to.not.include(u);
        for (const v of nu) expect(neighboursOf(v, n, k)).to.include(u);
      }
    }
  });

  it("refuses a configuration whose sum could overflow int32", () => {
    expect(() => validateSecAggConfig(config({ range: 1000, scaleBits: 16 }))).to.throw(SecAggConfigError, /overflows/);
    expect(() => validateSecAggConfig(config({ neighbours: 3 }))).to.throw(SecAggConfigError, /even/);
    expect(() => validateSecAggConfig(config({ threshold: 5 }))).to.throw(SecAggConfigError, /threshold/);
    expect(validateSecAggConfig(config())).to.deep.equal(config());
  });
});

describe("secagg: share encryption and commitments", () => {
  const [u, v, w] = makePeers(3);
  const shares = { self: randomSecret(), ephemeral: randomSecret() };
  const keyUV = shareKey(ctx, u.secretKey, v.publicKey, u.address, v.address);

  it("the holder derives the same key and decrypts; the shares match their commitments", () => {
    const e = encryptShares(keyUV, ctx, u.address, v.address, 2, shares);
    const keyVU = shareKey(ctx, v.secretKey, u.publicKey, u.address, v.address);
    const got = decryptShares(keyVU, ctx, u.address, v.address, 2, e);
    expect(hex(got.self)).to.equal(hex(shares.self));
    expect(shareCommitment(ctx, u.address, "self", 2, got.self)).to.equal(shareCommitment(ctx, u.address, "self", 2, shares.self));
  });

  it("a tampered ciphertext, a wrong key or a moved context does not authenticate", () => {
    const e = encryptShares(keyUV, ctx, u.address, v.address, 2, shares);
    const flipped = { nonce: e.nonce, ciphertext: Uint8Array.from(e.ciphertext) };
    flipped.ciphertext[5] ^= 1;
    expect(() => decryptShares(keyUV, ctx, u.address, v.address, 2, flipped)).to.throw(ShareDecryptionError, /do not authenticate/);
    const keyUW = shareKey(ctx, u.secretKey, w.publicKey, u.address, w.address);
    expect(() => decryptShares(keyUW, ctx, u.address, v.address, 2, e)).to.throw(ShareDecryptionError);
    expect(() => decryptShares(keyUV, { ...ctx, round: 4 }, u.address, v.address, 2, e)).to.throw(ShareDecryptionError);
    expect(() => decryptShares(keyUV, ctx, u.address, v.address, 3, e)).to.throw(ShareDecryptionError);
  });

  it("a holder refuses shares that do not match the owner's public commitments", () => {
    const peers = makePeers(4);
    const registry = new Map<number, PeerKey>(peers.map((p) => [p.index, p]));
    const { bundle } = createSetup(ctx, peers[0], 4, config(), registry);
    expect(openShares(ctx, peers[1], peers[0], bundle).self.x).to.equal(2);
    const lying: SetupBundle = { ...bundle, holders: bundle.holders.map((h) => (h.index === 1 ? { ...h, selfCommit: "0x" + "00".repeat(32) } : h)) };
    expect(() => openShares(ctx, peers[1], peers[0], lying)).to.throw(ShareDecryptionError, /commitments/);
  });
});

describe("secagg: masking and unmasking a round", () => {
  it("masks cancel: the unmasked sum equals the plain sum (complete graph, nobody drops)", () => {
    const r = runRound(6, config({ neighbours: 6, threshold: 3 }), [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]);
    const res = r.run();
    expect(Array.from(res.sum)).to.deep.equal(Array.from(r.expected));
    expect(res.totalSamples).to.equal(6 * 100 + 15);
    // and a masked update on its own looks nothing like its plain quantized update
    const plain = quantize(Float64Array.from({ length: D }, (_, k) => Math.sin(k) * 50), config()).values;
    expect(r.committed[0].words.filter((w, k) => w === plain[k]).length).to.be.lessThan(5);
  });

  it("masks cancel in a k-regular ring (SecAgg+) with 10 peers", () => {
    const all = Array.from({ length: 10 }, (_, i) => i);
    const r = runRound(10, config({ neighbours: 4, threshold: 3 }), all, all);
    expect(Array.from(r.run().sum)).to.deep.equal(Array.from(r.expected));
  });

  it("recovers from dropouts: peers that posted setup but never committed, and revealers that vanished", () => {
    // 9 peers, ring of 4, t = 2; peers 2 and 6 drop after setup; 2, 6 and 7 do not reveal.
    const committers = [0, 1, 3, 4, 5, 7, 8];
    const r = runRound(9, config({ neighbours: 4, threshold: 2 }), committers, [0, 1, 3, 4, 5, 8]);
    const res = r.run();
    expect(Array.from(res.sum)).to.deep.equal(Array.from(r.expected));
    expect(res.shares.find((s) => s.ownerIndex === 2)?.secret).to.equal("ephemeral");
    expect(res.shares.find((s) => s.ownerIndex === 0)?.secret).to.equal("self");
  });

  it("fails with the reason when a needed secret has one share fewer than the threshold", () => {
    // complete graph of 5, t = 3 (a peer's holders are the 4 others): peer 4 drops after setup.
    // Revealers 0, 1, 2: peer 0's self secret has shares from 1 and 2 only -> one below t.
    const r = runRound(5, config({ neighbours: 4, threshold: 3 }), [0, 1, 2, 3], [0, 1, 2]);
    expect(() => r.run()).to.throw(UnmaskError, /peer 0 committed: 2 valid share\(s\) of its self secret, threshold 3/);
    // Revealers 0..3: every needed secret has exactly t = 3 valid shares (4's ephemeral key has 4).
    const ok = runRound(5, config({ neighbours: 4, threshold: 3 }), [0, 1, 2, 3], [0, 1, 2, 3]);
    const res = ok.run();
    expect(Array.from(res.sum)).to.deep.equal(Array.from(ok.expected));
    expect(res.shares.filter((s) => s.secret === "self").every((s) => s.valid === 3)).to.equal(true);
  });

  it("detects tampered revealed shares and does not use them", () => {
    const r = runRound(5, config({ neighbours: 4, threshold: 3 }), [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], (reveals) => {
      const s = reveals[0].shares[0];
      s.y = hex(randomSecret());
    });
    const res = r.run();
    expect(res.refused.some((x) => x.revealer === 0 && /commitment/.test(x.reason))).to.equal(true);
    expect(Array.from(res.sum)).to.deep.equal(Array.from(r.expected)); // enough honest shares remain
    // With only t revealers, one tampered share makes the round fail instead of unmasking a wrong sum.
    const tight = runRound(5, config({ neighbours: 4, threshold: 3 }), [0, 1, 2, 3, 4], [0, 1, 2, 3], (reveals) => {
      reveals[0].shares.find((x) => x.ownerIndex === 1)!.y = hex(randomSecret()); // 1's holders that reveal: 0, 2, 3
    });
    expect(() => tight.run()).to.throw(UnmaskError, /threshold 3/);
  });

  it("a cheating revealer cannot make the audit use the ephemeral key of a peer that committed", () => {
    // Peer 0 reveals its share of peer 1's ephemeral key although peer 1 committed (valid share, wrong kind).
    const r = runRound(5, config({ neighbours: 4, threshold: 3 }), [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]);
    const owner = r.setups[1].bundle;
    const opened = openShares(ctx, r.peers[0], r.peers[1], owner);
    const s = r.reveals[0].bundle.shares.find((x) => x.ownerIndex === 1)!;
    s.secret = "ephemeral";
    s.y = hex(opened.ephemeral.y);
    const res = r.run();
    expect(res.refused.some((x) => x.ownerIndex === 1 && /needs the self share/.test(x.reason))).to.equal(true);
    expect(Array.from(res.sum)).to.deep.equal(Array.from(r.expected));
  });

  it("checks a posted bundle against the ring, the threshold and the on-chain ephemeral key", () => {
    const peers = makePeers(6);
    const registry = new Map<number, PeerKey>(peers.map((p) => [p.index, p]));
    const cfg = config({ neighbours: 2, threshold: 2 });
    const { bundle, secrets } = createSetup(ctx, peers[3], 6, cfg, registry);
    expect(setupProblem(bundle, { owner: peers[3], population: 6, ephemeralPk: secrets.ephemeralPublic, config: cfg })).to.equal(null);
    expect(setupProblem(bundle, { owner: peers[3], population: 6, ephemeralPk: randomSecret(), config: cfg })).to.match(/ephemeral public key/);
    expect(setupProblem({ ...bundle, holders: bundle.holders.slice(1) }, { owner: peers[3], population: 6, ephemeralPk: secrets.ephemeralPublic, config: cfg })).to.match(/neighbourhood/);
  });
});

describe("secagg: codecs", () => {
  const words = Uint32Array.from({ length: 10 }, (_, i) => (i * 0x9e3779b9) >>> 0);
  const m = { task: ctx.task, round: 7, ownerIndex: 3, words };

  it("round-trips a masked update and checks what it is for", () => {
    const bytes = encodeMaskedUpdate(m);
    expect(bytes.length).to.equal(36 + 40);
    const back = decodeMaskedUpdate(bytes, { task: ctx.task.toUpperCase().replace("0X", "0x"), round: 7, ownerIndex: 3, count: 10 });
    expect(Array.from(back.words)).to.deep.equal(Array.from(words));
  });

  it("refuses malformed masked updates with a clear error", () => {
    const bytes = encodeMaskedUpdate(m);
    const err = (b: Uint8Array, expect_?: Parameters<typeof decodeMaskedUpdate>[1]) => { try { decodeMaskedUpdate(b, expect_); return ""; } catch (e) { expect(e).to.be.instanceOf(SecAggFormatError); return (e as Error).message; } };
    expect(err(bytes.subarray(0, 20))).to.match(/shorter than the 36-byte header/);
    expect(err(bytes.subarray(0, bytes.length - 1))).to.match(/length 75 does not match 10 coordinates/);
    expect(err(new Uint8Array([...bytes, 0, 0, 0, 0]))).to.match(/does not match/);
    const badMagic = Uint8Array.from(bytes); badMagic[0] = 0x50; badMagic[3] = 0x57;
    expect(err(badMagic)).to.match(/magic/);
    const badVersion = Uint8Array.from(bytes); badVersion[4] = 2;
    expect(err(badVersion)).to.match(/version 2 is not supported/);
    const badFlags = Uint8Array.from(bytes); badFlags[5] = 1;
    expect(err(badFlags)).to.match(/flags/);
    expect(err(bytes, { count: 11 })).to.match(/10 coordinates, the model has 11/);
    expect(err(bytes, { ownerIndex: 4 })).to.match(/names peer 3, but peer 4 committed it/);
    expect(err(bytes, { round: 8 })).to.match(/round 7, not 8/);
  });

  it("setup and reveal bundles have one canonical encoding; anything else is refused", () => {
    const peers = makePeers(4);
    const registry = new Map<number, PeerKey>(peers.map((p) => [p.index, p]));
    const { bundle } = createSetup(ctx, peers[0], 4, config(), registry);
    const bytes = encodeSetupBundle(bundle);
    expect(decodeSetupBundle(bytes, ctx)).to.deep.equal(bundle);
    const json = JSON.parse(new TextDecoder().decode(bytes));
    expect(() => decodeSetupBundle(new TextEncoder().encode(JSON.stringify({ ...json, extra: 1 })))).to.throw(SecAggFormatError, /canonical/);
    expect(() => decodeSetupBundle(new TextEncoder().encode(JSON.stringify({ ...json, version: 2 })))).to.throw(SecAggFormatError, /version 2/);
    expect(() => decodeSetupBundle(bytes, { ...ctx, round: 9 })).to.throw(SecAggFormatError, /not 0x/);
    json.holders[0].ciphertext = "0x1234";
    expect(() => decodeSetupBundle(new TextEncoder().encode(JSON.stringify(json)))).to.throw(SecAggFormatError, /ciphertext/);
    expect(() => decodeSetupBundle(new TextEncoder().encode("not json"))).to.throw(SecAggFormatError, /JSON/);

    const reveal: RevealBundle = { version: 1, task: ctx.task, round: 3, revealer: peers[1].address, revealerIndex: 1, shares: [{ ownerIndex: 0, secret: "self", y: hex(randomSecret()) }] };
    const rb = encodeRevealBundle(reveal);
    expect(decodeRevealBundle(rb, ctx)).to.deep.equal(reveal);
    const both = { ...reveal, shares: [...reveal.shares, { ownerIndex: 0, secret: "ephemeral", y: hex(randomSecret()) }] };
    expect(() => decodeRevealBundle(new TextEncoder().encode(JSON.stringify(both)))).to.throw(SecAggFormatError, /never both/);
    expect(() => unhex("0xZZ", 1, "x", "y")).to.throw(SecAggFormatError);
  });
});

// keep the type import used
export type _S = SetupSecrets;
