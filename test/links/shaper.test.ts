import { expect } from "chai";
import net from "node:net";
import { performance } from "node:perf_hooks";
import { predictTransferMs, startShaper, type Shaper } from "../../node/links/shaper.ts";
import { closeServer, fixedLink, listen, payload, readExactly, sha } from "./helpers.ts";

const MB = 1024 * 1024;

/** Upstream that reads `up` bytes, then answers with `down` bytes; reports when it has read everything. */
function exchangeServer(up: number, down: Buffer): { server: net.Server; received: Promise<{ data: Buffer; at: number }> } {
  let resolve!: (v: { data: Buffer; at: number }) => void;
  const received = new Promise<{ data: Buffer; at: number }>((r) => { resolve = r; });
  const server = net.createServer((sock) => {
    void readExactly(sock, up).then((data) => {
      resolve({ data, at: performance.now() });
      sock.end(down);
    });
  });
  return { server, received };
}

describe("links/shaper: user-space TCP link emulation on loopback", function () {
  this.timeout(20_000);
  let shaper: Shaper | null = null;
  let upstream: net.Server | null = null;
  afterEach(async () => {
    await shaper?.close();
    if (upstream) await closeServer(upstream);
    shaper = null;
    upstream = null;
  });

  it("moves 1 MB each way in about the predicted time, byte-exact, with each direction's own parameters", async () => {
    const forward = fixedLink({ bandwidthBps: 10e6, latencyMs: 20 });
    const reverse = fixedLink({ bandwidthBps: 20e6, latencyMs: 30 });
    const upData = payload(MB, 1);
    const downData = payload(MB, 2);
    const ex = exchangeServer(MB, downData);
    upstream = ex.server;
    const port = await listen(ex.server);
    shaper = await startShaper({ upstream: { host: "127.0.0.1", port }, forward: () => forward, reverse: () => reverse });

    const client = net.connect(shaper.port, "127.0.0.1");
    await new Promise<void>((r) => client.once("connect", () => r()));
    const replyPromise = readExactly(client, MB);
    const t0 = performance.now();
    client.write(upData);
    const got = await ex.received;
    const upMs = got.at - t0;
    const reply = await replyPromise;
    const downMs = performance.now() - got.at;
    client.destroy();

    expect(sha(got.data)).to.equal(sha(upData));
    expect(sha(reply)).to.equal(sha(downData));
    const upPred = predictTransferMs(forward, MB);
    const downPred = predictTransferMs(reverse, MB);
    expect(upPred).to.be.closeTo(20 + (MB * 8000) / 10e6, 1e-6);
    // generous band: shaping can only be late on a loaded machine, never early
    expect(upMs, `up: measured ${upMs.toFixed(0)} ms, predicted ${upPred.toFixed(0)} ms`).to.be.within(0.75 * upPred, 1.25 * upPred + 100);
    expect(downMs, `down: measured ${downMs.toFixed(0)} ms, predicted ${downPred.toFixed(0)} ms`).to.be.within(0.75 * downPred, 1.25 * downPred + 100);
    expect(shaper.counters.bytesUp).to.equal(MB);
    expect(shaper.counters.bytesDown).to.equal(MB);
    expect(shaper.counters.connections).to.equal(1);
    expect(shaper.counters.busyMs).to.be.greaterThan(0.5 * (upPred + downPred));
  });

  it("emulates loss as retransmission delay: data arrives intact but at least one RTO late", async () => {
    const lossy = fixedLink({ bandwidthBps: 100e6, latencyMs: 5, lossRate: 0.05 });
    const data = payload(256 * 1024, 3);
    const ex = exchangeServer(data.length, Buffer.alloc(0));
    upstream = ex.server;
    const port = await listen(ex.server);
    shaper = await startShaper({ upstream: { host: "127.0.0.1", port }, forward: () => lossy, reverse: () => lossy, seed: 7 });
    const client = net.connect(shaper.port, "127.0.0.1");
    await new Promise<void>((r) => client.once("connect", () => r()));
    const t0 = performance.now();
    client.write(data);
    const got = await ex.received;
    client.destroy();
    expect(sha(got.data)).to.equal(sha(data));
    // 16 chunks with ~46 % loss each: some chunk is lost (p ≈ 1 − 0.54^16), costing a 200 ms RTO
    expect(got.at - t0).to.be.at.least(190);
    expect(shaper.counters.retransmits).to.be.greaterThan(0);
    expect(shaper.counters.lossDelayMs).to.be.at.least(150);
    expect(predictTransferMs(lossy, data.length)).to.be.greaterThan(predictTransferMs({ ...lossy, lossRate: 0 }, data.length) + 100);
  });

  it("never reorders bytes, even when jitter exceeds the spacing of chunks", async () => {
    const jittery = fixedLink({ bandwidthBps: 200e6, latencyMs: 15, jitterMs: 14 });
    const data = payload(2 * MB, 4);
    const ex = exchangeServer(data.length, Buffer.alloc(0));
    upstream = ex.server;
    const port = await listen(ex.server);
    shaper = await startShaper({ upstream: { host: "127.0.0.1", port }, forward: () => jittery, reverse: () => jittery, chunkBytes: 1500 });
    const client = net.connect(shaper.port, "127.0.0.1");
    await new Promise<void>((r) => client.once("connect", () => r()));
    for (let o = 0; o < data.length; o += 7000) client.write(data.subarray(o, o + 7000));
    const got = await ex.received;
    client.destroy();
    expect(sha(got.data)).to.equal(sha(data));
  });

  it("propagates half-close: the upstream sees end-of-stream and its reply still arrives", async () => {
    const link = fixedLink({ bandwidthBps: 50e6, latencyMs: 5 });
    const server = net.createServer({ allowHalfOpen: true }, (sock) => {
      const parts: Buffer[] = [];
      sock.on("data", (b: Buffer) => parts.push(b));
      sock.on("end", () => sock.end(`got ${Buffer.concat(parts).length}`));
    });
    upstream = server;
    const port = await listen(server);
    shaper = await startShaper({ upstream: { host: "127.0.0.1", port }, forward: () => link, reverse: () => link });
    const client = net.connect({ port: shaper.port, host: "127.0.0.1", allowHalfOpen: true });
    const reply = new Promise<string>((resolve) => {
      const parts: Buffer[] = [];
      client.on("data", (b: Buffer) => parts.push(b));
      client.on("end", () => resolve(Buffer.concat(parts).toString()));
    });
    client.end(payload(100_000));
    expect(await reply).to.equal("got 100000");
  });

  it("closes the client when the upstream refuses the connection", async () => {
    const link = fixedLink({});
    const dead = net.createServer();
    const port = await listen(dead);
    await closeServer(dead);
    shaper = await startShaper({ upstream: { host: "127.0.0.1", port }, forward: () => link, reverse: () => link });
    const client = net.connect(shaper.port, "127.0.0.1");
    client.on("error", () => undefined);
    await new Promise<void>((r) => client.once("close", () => r()));
    expect(shaper.counters.connections).to.equal(1);
  });

  it("predicts latency + size/bandwidth without loss, and more with loss", () => {
    const p = fixedLink({ bandwidthBps: 8e6, latencyMs: 12 });
    expect(predictTransferMs(p, 1_000_000)).to.be.closeTo(12 + 1000, 1e-9);
    expect(predictTransferMs({ ...p, lossRate: 0.01 }, 1_000_000)).to.be.greaterThan(1012);
    expect(predictTransferMs({ ...p, bandwidthBps: 0 }, 10)).to.equal(Infinity);
  });

  it("median prediction ignores rare losses and charges a full RTO when a loss is near certain", () => {
    const p = fixedLink({ bandwidthBps: 100e6, latencyMs: 10 });
    const lossless = predictTransferMs(p, MB);
    const rare = { ...p, lossRate: 1e-5 };
    expect(predictTransferMs(rare, MB, { statistic: "median" })).to.equal(lossless);
    expect(predictTransferMs(rare, MB)).to.be.greaterThan(lossless);
    const heavy = { ...p, lossRate: 0.2 };
    expect(predictTransferMs(heavy, MB, { statistic: "median", rtoMs: 200 })).to.be.closeTo(lossless + 200, 2);
  });
});
