/**
 * The explorer's guards against other web pages and heavy requests, on a real `hardhat node` with
 * the real contract and IPFS content (fixture.ts): the Host allow-list (DNS rebinding), the Origin
 * check on the audit POST (CSRF), the audit concurrency limit (429) and the CID byte cap (413).
 */
import { expect } from "chai";
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { startExplorerServer, type RunningExplorer } from "../../explorer/server.ts";
import { createExplorerService, type ExplorerSetup } from "../../explorer/setup.ts";
import { createFixture, type Fixture } from "./fixture.ts";

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One HTTP request with exactly these headers (fetch would not let us set Host). */
function rawRequest(url: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? "GET", headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * A JSON-RPC pass-through to the real node that holds every request carrying an eth_call while
 * its gate is closed, so a test can keep an audit (which starts with contract views) in flight.
 */
async function gatedRpcProxy(target: string): Promise<{ url: string; held: Promise<void>; open(): void; close(): Promise<void> }> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let markHeld!: () => void;
  const held = new Promise<void>((resolve) => (markHeld = resolve));
  let closed = true;
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      const body = Buffer.concat(chunks).toString("utf8");
      const calls = [JSON.parse(body) as { method?: string } | { method?: string }[]].flat();
      if (closed && calls.some((c) => c.method === "eth_call")) {
        markHeld();
        await gate;
      }
      const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(await upstream.text());
    })().catch((error: unknown) => res.destroy(error instanceof Error ? error : new Error(String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    open() {
      closed = false;
      release();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("explorer: Host allow-list, Origin check, audit limit and CID byte cap", function () {
  this.timeout(120_000);
  let fx: Fixture;
  let setup: ExplorerSetup;
  let explorer: RunningExplorer;
  let port: number;

  before(async () => {
    fx = await createFixture();
    setup = createExplorerService({ rpcUrl: fx.chain.rpcUrl, contractAddress: fx.contractAddress, cidTimeoutMs: 3000 });
    explorer = await startExplorerServer(setup.service, { port: 0, pollMs: 500, allowedHosts: ["explorer.test:8443", "proxy.test"] });
    port = Number(new URL(explorer.url).port);
  });

  after(async () => {
    await explorer?.close();
    await setup?.close();
    await fx?.stop();
  });

  it("answers to 127.0.0.1, localhost and [::1] on its port, and to --allowed-host names", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`, "explorer.test:8443", "proxy.test", "proxy.test:9000"]) {
      const res = await rawRequest(`${explorer.url}/api/status`, { headers: { host } });
      expect(res.status, host).to.equal(200);
    }
  });

  it("refuses a foreign Host (DNS rebinding) with 403 and says how to allow it", async () => {
    for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1:${port + 1}`, "explorer.test:8444", "localhost"]) {
      const api = await rawRequest(`${explorer.url}/api/status`, { headers: { host } });
      expect(api.status, host).to.equal(403);
      const body = JSON.parse(api.text) as { error: string; message: string };
      expect(body.error).to.equal("host-not-allowed");
      expect(body.message).to.contain(`Host "${host}" is not allowed`).and.contain("--allowed-host");
      const page = await rawRequest(`${explorer.url}/rounds`, { headers: { host } });
      expect(page.status, host).to.equal(403);
      expect(page.text).to.contain("DNS rebinding");
    }
    // Static assets are guarded too: a rebinding page must not read anything.
    expect((await rawRequest(`${explorer.url}/assets/style.css`, { headers: { host: "evil.example" } })).status).to.equal(403);
  });

  it("refuses a cross-origin audit POST with 403", async () => {
    for (const origin of ["http://evil.example", `http://127.0.0.1:${port + 1}`, "null", `https://evil.example:${port}`]) {
      const res = await fetch(`${explorer.url}/api/rounds/1/audit`, { method: "POST", headers: { origin } });
      expect(res.status, origin).to.equal(403);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).to.equal("cross-origin");
      expect(body.message).to.contain(`Origin "${origin}"`);
    }
    const noOrigin = await fetch(`${explorer.url}/api/rounds/1/audit`, { method: "POST", headers: { "sec-fetch-site": "cross-site" } });
    expect(noOrigin.status).to.equal(403);
  });

  it("runs a same-origin audit POST (from the explorer's own page, or without Origin as curl sends it)", async () => {
    const variants: Record<string, string>[] = [{ origin: explorer.url }, { origin: `http://localhost:${port}` }, { "sec-fetch-site": "same-origin" }, {}];
    for (const headers of variants) {
      const res = await fetch(`${explorer.url}/api/rounds/1/audit`, { method: "POST", headers });
      expect(res.status, JSON.stringify(headers)).to.equal(200);
      expect(((await res.json()) as { ok: boolean }).ok).to.equal(true);
    }
  });

  it("answers an audit beyond the concurrency limit with 429 and Retry-After", async () => {
    const proxy = await gatedRpcProxy(fx.chain.rpcUrl);
    const limited = createExplorerService({ rpcUrl: proxy.url, contractAddress: fx.contractAddress, cidTimeoutMs: 3000, maxConcurrentAudits: 1 });
    const running = await startExplorerServer(limited.service, { port: 0, pollMs: 60_000 });
    try {
      const first = fetch(`${running.url}/api/rounds/1/audit`, { method: "POST" });
      await proxy.held; // the first audit is in flight, waiting for its contract views
      expect(limited.service.audits.running).to.equal(1);
      const second = await fetch(`${running.url}/api/rounds/2/audit`, { method: "POST" });
      expect(second.status).to.equal(429);
      expect(Number(second.headers.get("retry-after"))).to.be.within(1, 60);
      const body = (await second.json()) as { error: string; limit: number; message: string };
      expect(body.error).to.equal("too-many-audits");
      expect(body.limit).to.equal(1);
      expect(body.message).to.contain("--max-audits");
      proxy.open();
      const done = await first;
      expect(done.status).to.equal(200);
      expect(((await done.json()) as { ok: boolean }).ok).to.equal(true);
      // The slot is free again.
      const third = await fetch(`${running.url}/api/rounds/1/audit`, { method: "POST" });
      expect(third.status).to.equal(200);
    } finally {
      proxy.open();
      await running.close();
      await limited.close();
      await proxy.close();
    }
  });

  it("refuses CID pages and raw downloads over the byte cap with 413", async () => {
    const capped = createExplorerService({ rpcUrl: fx.chain.rpcUrl, contractAddress: fx.contractAddress, cidTimeoutMs: 3000, maxCidBytes: 16 });
    const running = await startExplorerServer(capped.service, { port: 0, pollMs: 60_000 });
    try {
      const cid = fx.rounds[0].commitCids[0];
      const api = await fetch(`${running.url}/api/cids/${cid}`);
      expect(api.status).to.equal(413);
      const body = (await api.json()) as { error: string; maxBytes: number; sizeBytes: number; message: string };
      expect(body.error).to.equal("content-too-large");
      expect(body.maxBytes).to.equal(16);
      expect(body.sizeBytes).to.be.greaterThan(16);
      expect(body.message).to.contain("--max-cid-bytes");
      const raw = await fetch(`${running.url}/cid/${cid}/raw`);
      expect(raw.status).to.equal(413);
      const page = await fetch(`${running.url}/cid/${cid}`);
      expect(page.status).to.equal(413);
      expect(await page.text()).to.contain("Content too large");
      // The default explorer (16 MiB cap) serves the same CID.
      expect((await fetch(`${explorer.url}/api/cids/${cid}`)).status).to.equal(200);
    } finally {
      await running.close();
      await capped.close();
    }
  });
});
