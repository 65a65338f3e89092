import { expect } from "chai";
import { multiaddr } from "@multiformats/multiaddr";
import type { MultiaddrConnection } from "@libp2p/interface";
import { createEmbeddedStore, RepoLockedError, type EmbeddedStore } from "../../ipfs/embedded-store.ts";
import {
  ContentTooLargeError, GetAbortedError, GetTimeoutError, InvalidCidError, NonLoopbackAddressError,
} from "../../ipfs/errors.ts";
import { isLoopbackIp, isLoopbackMultiaddr, loopbackConnectionGater } from "../../ipfs/loopback-gater.ts";
import { pattern, sameBytes, tempDir, text } from "./helpers.ts";

// A valid CID that no test node holds (sha2-256 raw CID of bytes nobody added).
const UNKNOWN_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyka";

describe("ipfs: embedded Helia store", function () {
  this.timeout(30_000);
  let store: EmbeddedStore;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir("embedded");
    cleanup = tmp.cleanup;
    store = await createEmbeddedStore({ repoDir: tmp.dir });
  });
  after(async () => {
    await store?.stop();
    await cleanup?.();
  });

  it("adds with Kubo's CIDs (v1 raw leaves by default, v0 on request) and reads the bytes back", async () => {
    expect(await store.put(text("hello\n"))).to.equal("bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am");
    expect(await store.put(text("hello\n"), { cidVersion: 0 })).to.equal("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN");
    const big = pattern(700_000, 5);
    for (const cidVersion of [0, 1] as const) {
      const cid = await store.put(big, { cidVersion });
      expect(sameBytes(await store.get(cid), big)).to.equal(true);
    }
  });

  it("pins by default, lists pins in the CID version they were added with, and unpins", async () => {
    const v0 = await store.put(text("pin me v0"), { cidVersion: 0 });
    const v1 = await store.put(text("pin me v1"));
    const loose = await store.put(text("not pinned"), { pin: false });
    const pins = await store.listPins();
    expect(pins).to.include.members([v0, v1]);
    expect(pins).to.not.include(loose);
    expect(await store.has(loose)).to.equal(true);
    await store.unpin(v1);
    await store.unpin(v1); // idempotent
    expect(await store.listPins()).to.not.include(v1);
    await store.pin(loose);
    expect(await store.listPins()).to.include(loose);
  });

  it("reports its peer id and a loopback multiaddr ending in /p2p/<peerId>", async () => {
    const id = await store.peerId();
    const addrs = await store.multiaddrs();
    expect(id).to.match(/^12D3Koo/);
    expect(addrs.length).to.be.greaterThan(0);
    for (const a of addrs) {
      expect(a).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
      expect(a.endsWith(`/p2p/${id}`)).to.equal(true);
    }
  });

  it("throws InvalidCidError naming a malformed CID, from get, has, pin and unpin", async () => {
    for (const call of [
      () => store.get("Qm-not-a-cid"), () => store.has("Qm-not-a-cid"),
      () => store.pin("Qm-not-a-cid"), () => store.unpin("Qm-not-a-cid"),
    ]) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(InvalidCidError);
      expect((err as Error).message).to.contain("Qm-not-a-cid");
    }
  });

  it("gives up on an unknown CID after timeoutMs with an error naming the CID", async () => {
    const err = await store.get(UNKNOWN_CID, { timeoutMs: 500 }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(GetTimeoutError);
    expect((err as Error).message).to.contain(UNKNOWN_CID).and.contain("500 ms");
  });

  it("reports a caller's abort as GetAbortedError, not a timeout", async () => {
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 100);
    const err = await store.get(UNKNOWN_CID, { timeoutMs: 10_000, signal: ctrl.signal }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(GetAbortedError);
    expect((err as Error).message).to.contain(UNKNOWN_CID);
  });

  it("refuses content above maxBytes from the root's declared size (raw and dag-pb roots)", async () => {
    const small = await store.put(pattern(5000));
    const multi = await store.put(pattern(600_000, 9));
    for (const [cid, size] of [[small, 5000], [multi, 600_000]] as const) {
      const err = await store.get(cid, { maxBytes: 4096 }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(ContentTooLargeError);
      expect((err as ContentTooLargeError).declared).to.equal(true);
      expect((err as ContentTooLargeError).sizeBytes).to.equal(size);
      expect((err as Error).message).to.contain(cid);
    }
    expect((await store.get(small, { maxBytes: 5000 })).length).to.equal(5000);
  });

  it("refuses a non-loopback dial before touching the network", async () => {
    const err = await store.dial("/ip4/8.8.8.8/tcp/4001/p2p/12D3KooWLYkA9ZnRtB2HWj1cSY7bttRmM95Fd66NLXPskevjXkT3")
      .then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(NonLoopbackAddressError);
    expect((err as Error).message).to.contain("8.8.8.8");
  });
});

describe("ipfs: loopback connection gater", () => {
  const fakeConn = (addr: string) => ({ remoteAddr: multiaddr(addr) }) as unknown as MultiaddrConnection;

  it("denies dialling and accepting non-loopback multiaddrs, and keeps them out of the peer store", async () => {
    const gater = loopbackConnectionGater();
    for (const addr of ["/ip4/8.8.8.8/tcp/4001", "/ip4/192.168.1.20/tcp/4001", "/ip6/2001:db8::1/tcp/4001",
      "/dns4/example.com/tcp/4001", "/ip4/10.0.0.1/udp/4001/quic-v1"]) {
      expect(await gater.denyDialMultiaddr?.(multiaddr(addr)), addr).to.equal(true);
      expect(await gater.denyInboundConnection?.(fakeConn(addr)), addr).to.equal(true);
      expect(await gater.filterMultiaddrForPeer?.(undefined as never, multiaddr(addr)), addr).to.equal(false);
    }
    for (const addr of ["/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.2/tcp/1", "/ip6/::1/tcp/4001"]) {
      expect(await gater.denyDialMultiaddr?.(multiaddr(addr)), addr).to.equal(false);
      expect(await gater.denyInboundConnection?.(fakeConn(addr)), addr).to.equal(false);
    }
  });

  it("allows everything when allowNonLoopback is set", () => {
    expect(loopbackConnectionGater({ allowNonLoopback: true })).to.deep.equal({});
  });

  it("classifies IP strings and multiaddrs", () => {
    expect(isLoopbackIp("::ffff:127.0.0.1")).to.equal(true);
    expect(isLoopbackIp("10.1.2.3")).to.equal(false);
    expect(isLoopbackIp(undefined)).to.equal(false);
    expect(isLoopbackMultiaddr(multiaddr("/ip4/127.9.9.9/tcp/1"))).to.equal(true);
  });
});

describe("ipfs: embedded store persistence", function () {
  this.timeout(30_000);

  it("keeps blocks, pins and the peer id across a restart on the same repoDir", async () => {
    const tmp = await tempDir("persist");
    const bytes = pattern(900_000, 21);
    let first: EmbeddedStore | undefined = await createEmbeddedStore({ repoDir: tmp.dir });
    let second: EmbeddedStore | undefined;
    try {
      const pinned = await first.put(bytes);
      const pinnedV0 = await first.put(text("v0 survives"), { cidVersion: 0 });
      const unpinned = await first.put(text("unpinned survives too"), { pin: false });
      const peerId = await first.peerId();
      await first.stop();
      first = undefined;

      second = await createEmbeddedStore({ repoDir: tmp.dir });
      expect(await second.peerId()).to.equal(peerId);
      expect(await second.listPins()).to.include.members([pinned, pinnedV0]);
      expect(await second.listPins()).to.not.include(unpinned);
      expect(await second.has(unpinned)).to.equal(true);
      // No peers are connected, so these can only come from disk.
      expect(sameBytes(await second.get(pinned, { timeoutMs: 2000 }), bytes)).to.equal(true);
      expect(new TextDecoder().decode(await second.get(pinnedV0, { timeoutMs: 2000 }))).to.equal("v0 survives");
    } finally {
      await first?.stop();
      await second?.stop();
      await tmp.cleanup();
    }
  });

  it("refuses to open a repo another live store holds", async () => {
    const tmp = await tempDir("lock");
    const a = await createEmbeddedStore({ repoDir: tmp.dir });
    try {
      const err = await createEmbeddedStore({ repoDir: tmp.dir }).then(async (s) => { await s.stop(); }, (e: unknown) => e);
      expect(err).to.be.instanceOf(RepoLockedError);
      expect((err as Error).message).to.contain(tmp.dir);
    } finally {
      await a.stop();
      await tmp.cleanup();
    }
  });
});
