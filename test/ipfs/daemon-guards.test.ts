/**
 * `peerfl ipfs daemon`'s HTTP guards on a real daemon: no CORS headers on the gateway, a byte cap
 * on gateway responses and on `add` uploads (413), and the Host allow-list on both servers.
 */
import { expect } from "chai";
import http, { type IncomingHttpHeaders } from "node:http";
import { startDaemon, type RunningDaemon } from "../../ipfs/daemon.ts";
import { defaultAllowedHosts, hostAllowed } from "../../ipfs/rpc-server.ts";
import { pattern, tempDir } from "./helpers.ts";

/** One HTTP request with exactly these headers (fetch would not let us set Host). */
function rawRequest(url: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
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

function addForm(bytes: Uint8Array, name = "upload.bin"): FormData {
  const form = new FormData();
  form.append("file", new Blob([Buffer.from(bytes)]), name);
  return form;
}

describe("ipfs: Host allow-list rules", () => {
  const local = { localPort: 5001, localAddress: "127.0.0.1" };

  it("accepts the loopback names and the socket's own IP on the server's port", () => {
    expect(defaultAllowedHosts(local)).to.deep.equal(["127.0.0.1:5001", "localhost:5001", "[::1]:5001"]);
    for (const host of ["127.0.0.1:5001", "localhost:5001", "LocalHost:5001", "[::1]:5001"]) expect(hostAllowed(host, local), host).to.equal(true);
    expect(hostAllowed("10.0.0.7:5001", { localPort: 5001, localAddress: "::ffff:10.0.0.7" })).to.equal(true);
  });

  it("refuses other names, other ports, a missing Host and garbage", () => {
    for (const host of ["evil.example:5001", "evil.example", "127.0.0.1:5002", "localhost", "127.0.0.1:5001@evil", "", "[::1"]) {
      expect(hostAllowed(host, local), host).to.equal(false);
    }
    expect(hostAllowed(undefined, local)).to.equal(false);
  });

  it("adds extra entries: NAME:PORT exactly, a bare NAME on any port", () => {
    const extra = ["ipfs.lan:8080", "gateway.test"];
    expect(hostAllowed("ipfs.lan:8080", local, extra)).to.equal(true);
    expect(hostAllowed("ipfs.lan:8081", local, extra)).to.equal(false);
    expect(hostAllowed("gateway.test", local, extra)).to.equal(true);
    expect(hostAllowed("gateway.test:9999", local, extra)).to.equal(true);
  });
});

describe("ipfs: daemon gateway and RPC guards", function () {
  this.timeout(60_000);
  const LIMIT = 100_000;
  let daemon: RunningDaemon;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await tempDir("guards");
    cleanup = repo.cleanup;
    daemon = await startDaemon({
      repoDir: repo.dir, apiPort: 0, gatewayPort: 0, swarmPort: 0,
      maxAddBytes: LIMIT, maxGatewayBytes: LIMIT, allowedHosts: ["ipfs.lan"],
    });
  });
  after(async () => {
    await daemon?.stop();
    await cleanup?.();
  });

  it("sends no CORS headers from the gateway, even to a request with an Origin", async () => {
    const { cid } = await daemon.store.add(pattern(5000, 3));
    const res = await fetch(`${daemon.gatewayUrl}/ipfs/${cid}`, { headers: { origin: "http://evil.example" } });
    expect(res.status).to.equal(200);
    expect(new Uint8Array(await res.arrayBuffer())).to.have.length(5000);
    const cors: string[] = [];
    res.headers.forEach((_value, name) => { if (name.startsWith("access-control-")) cors.push(name); });
    expect(cors).to.deep.equal([]);
    const preflight = await fetch(`${daemon.gatewayUrl}/ipfs/${cid}`, { method: "OPTIONS", headers: { origin: "http://evil.example" } });
    expect(preflight.status).to.equal(405);
    expect(preflight.headers.get("access-control-allow-origin")).to.equal(null);
  });

  it("answers a gateway request over the byte cap with 413 and serves one at the cap", async () => {
    const big = await daemon.store.add(pattern(LIMIT + 1, 4));
    const res = await fetch(`${daemon.gatewayUrl}/ipfs/${big.cid}`);
    expect(res.status).to.equal(413);
    const text = await res.text();
    expect(text).to.contain(`more than the limit of ${LIMIT}`).and.contain("--max-gateway-bytes");
    const head = await fetch(`${daemon.gatewayUrl}/ipfs/${big.cid}`, { method: "HEAD" });
    expect(head.status).to.equal(413);
    const fits = await daemon.store.add(pattern(LIMIT, 5));
    const ok = await fetch(`${daemon.gatewayUrl}/ipfs/${fits.cid}`);
    expect(ok.status).to.equal(200);
    expect((await ok.arrayBuffer()).byteLength).to.equal(LIMIT);
  });

  it("refuses an RPC add over the byte cap with 413 and accepts one at the cap", async () => {
    const tooBig = await fetch(`${daemon.apiUrl}/api/v0/add`, { method: "POST", body: addForm(pattern(LIMIT + 1, 6)) });
    expect(tooBig.status).to.equal(413);
    const body = (await tooBig.json()) as { Message: string; Type: string };
    expect(body.Type).to.equal("error");
    expect(body.Message).to.contain(`limit of ${LIMIT} bytes`).and.contain("--max-add-bytes");
    // Far over the cap: refused on the declared Content-Length, before the body is read.
    const huge = await fetch(`${daemon.apiUrl}/api/v0/add`, { method: "POST", body: addForm(pattern(4 * LIMIT, 7)) });
    expect(huge.status).to.equal(413);
    const atCap = await fetch(`${daemon.apiUrl}/api/v0/add`, { method: "POST", body: addForm(pattern(LIMIT, 6)) });
    expect(atCap.status).to.equal(200);
    expect(((await atCap.json()) as { Hash: string }).Hash).to.match(/^Qm/);
  });

  it("refuses a foreign Host on the RPC API and the gateway with 403, accepts loopback names and --allowed-host", async () => {
    const { cid } = await daemon.store.add(pattern(1000, 8));
    const apiPort = new URL(daemon.apiUrl).port;
    const gwPort = new URL(daemon.gatewayUrl!).port;
    const rpc = await rawRequest(`${daemon.apiUrl}/api/v0/version`, { method: "POST", headers: { host: `evil.example:${apiPort}` } });
    expect(rpc.status).to.equal(403);
    expect(rpc.text).to.contain(`Host "evil.example:${apiPort}" is not allowed`).and.contain("--allowed-host");
    const gw = await rawRequest(`${daemon.gatewayUrl}/ipfs/${cid}`, { headers: { host: "evil.example" } });
    expect(gw.status).to.equal(403);
    expect(gw.text).to.contain("DNS rebinding");
    for (const host of [`localhost:${apiPort}`, `127.0.0.1:${apiPort}`, "ipfs.lan"]) {
      expect((await rawRequest(`${daemon.apiUrl}/api/v0/version`, { method: "POST", headers: { host } })).status, host).to.equal(200);
    }
    expect((await rawRequest(`${daemon.gatewayUrl}/ipfs/${cid}`, { headers: { host: `[::1]:${gwPort}` } })).status).to.equal(200);
  });
});
