import { expect } from "chai";
import net from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { JsonRpcProvider } from "ethers";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLinkLayer, LinkAddressError, type LinkLayer } from "../../node/links/layer.ts";
import { parseScenario } from "../../node/links/scenario.ts";
import { closeServer, freePort, jsonRpcEcho, listen, payload, readExactly, sha } from "./helpers.ts";

// Peer 0 at 50 m from the base station (in coverage), peer 1 at 150 m (out of the 100 m coverage,
// 100 m from peer 0: within sidelink range), peer 2 at 60 m on the other side.
const scenario = parseScenario({
  name: "layer-test", coverageRadiusM: 100, sidelinkRangeM: 150,
  peers: [{ x: 50, y: 0 }, { x: 150, y: 0 }, { x: -60, y: 0 }],
});

describe("links/layer: the agent-facing link layer", function () {
  this.timeout(30_000);
  const layers: LinkLayer[] = [];
  const servers: net.Server[] = [];
  let ports: number[] = [];
  const layer = async (self: number): Promise<LinkLayer> => {
    const l = await createLinkLayer({ scenario, selfIndex: self, relayPortFor: (i) => ports[i] });
    layers.push(l);
    return l;
  };
  beforeEach(async () => { ports = [await freePort(), await freePort(), await freePort()]; });
  afterEach(async () => {
    await Promise.all(layers.splice(0).map((l) => l.close()));
    await Promise.all(servers.splice(0).map(closeServer));
  });

  it("routeTo rewrites a multiaddr to a local shaper, keeps /p2p/ID, and carries bytes both ways", async () => {
    const echo = net.createServer((s) => s.pipe(s));
    servers.push(echo);
    const port = await listen(echo);
    const l0 = await layer(0);
    const id = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
    const routed = await l0.routeTo(2, `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`);
    expect(routed).to.match(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${id}$`));
    expect(await l0.routeTo(2, `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`)).to.equal(routed); // one shaper per route
    const proxyPort = Number(routed.split("/")[4]);
    expect(proxyPort).to.not.equal(port);
    expect(l0.routedPorts()).to.include(proxyPort);

    const data = payload(300_000, 9);
    const sock = net.connect(proxyPort, "127.0.0.1");
    const back = readExactly(sock, data.length);
    sock.write(data);
    expect(sha(await back)).to.equal(sha(data));
    sock.destroy();

    const [st] = l0.stats();
    expect(st).to.include({ from: 0, to: 2, role: "peer", mode: "direct", bytesUp: data.length, bytesDown: data.length, connections: 1 });
    expect(l0.modeTo(2).mode).to.equal("direct");
  });

  it("rejects multiaddrs it cannot shape", async () => {
    const l0 = await layer(0);
    for (const bad of ["/ip4/127.0.0.1/udp/4001/quic-v1", "/ip6/::1/tcp/4001", "not-an-addr", "/ip4/127.0.0.1/tcp/70000"]) {
      let err: unknown;
      try { await l0.routeTo(2, bad); } catch (e) { err = e; }
      expect(err, bad).to.be.instanceOf(LinkAddressError);
    }
    let self: unknown;
    try { await l0.routeTo(0, "/ip4/127.0.0.1/tcp/1"); } catch (e) { self = e; }
    expect(String(self)).to.match(/itself/);
  });

  it("never opens TCP to a host a peer advertises unless it is loopback or one of the run's test hosts", async () => {
    const outside = net.createServer((s) => s.end());
    servers.push(outside);
    let connections = 0;
    outside.on("connection", () => connections++);
    const l0 = await layer(0);
    for (const advertised of ["/dns4/example.org/tcp/4001", "/ip4/10.1.2.3/tcp/4001", "/ip4/192.168.0.7/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"]) {
      let err: unknown;
      try { await l0.routeTo(2, advertised); } catch (e) { err = e; }
      expect(err, advertised).to.be.instanceOf(LinkAddressError);
      expect(String(err)).to.match(/neither loopback nor one of this run's test hosts/);
    }
    expect(l0.routedPorts()).to.deep.equal([]);
    const withHosts = await createLinkLayer({ scenario, selfIndex: 1, relayPortFor: (i) => ports[i], allowedHosts: ["10.200.0.2"] });
    layers.push(withHosts);
    expect(await withHosts.routeTo(2, "/ip4/10.200.0.2/tcp/4001")).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/);
    expect(connections).to.equal(0);
  });

  it("an in-coverage peer reaches the chain over its own shaped Uu link", async () => {
    const rpc = jsonRpcEcho();
    servers.push(rpc.server);
    const chainUrl = `http://127.0.0.1:${await listen(rpc.server)}`;
    const l0 = await layer(0);
    const url = await l0.rpcUrl(chainUrl);
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).to.not.equal(chainUrl);
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    expect(await provider.send("eth_chainId", [])).to.equal("0x7a69");
    provider.destroy();
    const [st] = l0.stats();
    expect(st).to.include({ from: 0, to: "chain", role: "rpc", mode: "infrastructure" });
    expect(st.bytesUp).to.be.greaterThan(0);
    expect(st.bytesDown).to.be.greaterThan(0);
    expect(l0.chainRoute()).to.deep.equal({ kind: "uu" });
  });

  it("an out-of-coverage peer's RPC goes through the relay peer's forwarder (UE-to-network relay)", async () => {
    const rpc = jsonRpcEcho();
    servers.push(rpc.server);
    const chainUrl = `http://127.0.0.1:${await listen(rpc.server)}`;
    const l0 = await layer(0);
    const l1 = await layer(1);
    expect(l1.inCoverage()).to.equal(false);
    expect(l1.chainRoute()).to.deep.equal({ kind: "relay", relay: 0 });
    const url = await l1.rpcUrl(chainUrl);

    // Without the relay's forwarder there is no path to the chain at all.
    let refused: unknown;
    try {
      await fetch(url, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId" }) });
    } catch (e) { refused = e; }
    expect(refused, "RPC must fail while the relay forwarder is down").to.be.instanceOf(Error);
    expect(rpc.requests()).to.equal(0);

    expect(await l0.serveRelay(chainUrl)).to.equal(`http://127.0.0.1:${ports[0]}`);
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    expect(await provider.send("eth_chainId", [])).to.equal("0x7a69");
    expect(await provider.send("net_version", [])).to.deep.include({ echo: "net_version" });
    provider.destroy();
    expect(rpc.requests()).to.be.at.least(2); // + ethers' own network detection

    const forwarder = l0.stats().find((s) => s.role === "relay-forwarder");
    expect(forwarder, "relay forwarder stats").to.not.equal(undefined);
    expect(forwarder!.bytesUp).to.be.greaterThan(0);
    expect(forwarder!.connections).to.be.at.least(1);
    const own = l1.stats().find((s) => s.role === "rpc");
    expect(own).to.include({ mode: "relay", relay: 0, to: "chain" });
    expect(own!.bytesUp).to.equal(forwarder!.bytesUp);
    // relay traffic is visible as extra latency: sidelink hop + forwarding + the relay's Uu
    expect(l1.chainLink().latencyMs).to.be.greaterThan(l0.chainLink().latencyMs + 10);
  });

  it("an out-of-coverage peer's own forwarder (safe to start on every peer) chains on through its relay", async () => {
    const rpc = jsonRpcEcho();
    servers.push(rpc.server);
    const chainUrl = `http://127.0.0.1:${await listen(rpc.server)}`;
    const l0 = await layer(0);
    const l1 = await layer(1);
    await l0.serveRelay(chainUrl);
    const url1 = await l1.serveRelay(chainUrl);
    expect(url1).to.equal(`http://127.0.0.1:${ports[1]}`);
    const res = await fetch(url1, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "eth_chainId" }) });
    expect(await res.json()).to.deep.equal({ jsonrpc: "2.0", id: 7, result: "0x7a69" });
    expect(l1.stats().find((s) => s.role === "relay-forwarder")).to.include({ mode: "relay", relay: 0 });
    expect(l0.stats().find((s) => s.role === "relay-forwarder")!.connections).to.equal(1);
  });

  it("writes per-link counters as JSON", async () => {
    const echo = net.createServer((s) => s.pipe(s));
    servers.push(echo);
    const port = await listen(echo);
    const l0 = await layer(0);
    await l0.routeTo(1, `/ip4/127.0.0.1/tcp/${port}`);
    const dir = await mkdtemp(join(tmpdir(), "peerfl-links-"));
    try {
      await l0.writeStats(join(dir, "links.json"));
      const body = JSON.parse(await readFile(join(dir, "links.json"), "utf8")) as { selfIndex: number; scenario: string; links: unknown[] };
      expect(body.selfIndex).to.equal(0);
      expect(body.scenario).to.equal("layer-test");
      expect(body.links).to.have.length(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a real libp2p dial through routeTo crosses the emulated link", async () => {
    const nodes: Libp2p[] = [];
    const make = async (): Promise<Libp2p> => {
      const n = await createLibp2p({
        addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
      });
      nodes.push(n);
      return n;
    };
    try {
      const [a, b] = [await make(), await make()];
      const bAddr = b.getMultiaddrs().find((m) => m.toString().startsWith("/ip4/127.0.0.1/tcp/"))!.toString();
      const l0 = await layer(0);
      const routed = await l0.routeTo(2, bAddr);
      const t0 = performance.now();
      const conn = await a.dial(multiaddr(routed));
      const dialMs = performance.now() - t0;
      expect(conn.remotePeer.toString()).to.equal(b.peerId.toString());
      expect(conn.remoteAddr.toString()).to.equal(routed);
      const [st] = l0.stats();
      expect(st.bytesUp).to.be.greaterThan(0);
      expect(st.bytesDown).to.be.greaterThan(0);
      // the noise handshake needs at least one round trip over the link (lower bound only)
      const link = l0.modeTo(2);
      expect(dialMs).to.be.at.least(0.9 * 2 * link.latencyMs);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});
