// Loopback helpers for the link tests: real TCP sockets, nothing mocked.
import net from "node:net";
import http from "node:http";
import { createHash } from "node:crypto";
import type { LinkParams } from "../../node/links/radio.ts";

export function fixedLink(over: Partial<LinkParams>): LinkParams {
  return { mode: "direct", latencyMs: 0, jitterMs: 0, bandwidthBps: 1e9, lossRate: 0, hops: 1, distanceM: 0, inRange: true, ...over };
}

/** Deterministic, non-repeating test payload. */
export function payload(bytes: number, salt = 1): Buffer {
  const out = Buffer.alloc(bytes);
  let x = salt >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export async function listen(server: net.Server | http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as net.AddressInfo).port;
}

export const closeServer = (server: net.Server | http.Server): Promise<void> =>
  new Promise((r) => { (server as http.Server).closeAllConnections?.(); server.close(() => r()); });

/** Reads exactly `n` bytes from a socket. */
export function readExactly(sock: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (b: Buffer): void => {
      parts.push(b);
      got += b.length;
      if (got >= n) { sock.off("data", onData); resolve(Buffer.concat(parts).subarray(0, n)); }
    };
    sock.on("data", onData);
    sock.once("error", reject);
    sock.once("close", () => { if (got < n) reject(new Error(`socket closed after ${got}/${n} bytes`)); });
  });
}

/**
 * A tiny HTTP JSON-RPC endpoint standing in for the chain node in transport tests: answers
 * eth_chainId with 31337 and echoes anything else back as the result; counts requests.
 */
export function jsonRpcEcho(): { server: http.Server; requests: () => number } {
  let count = 0;
  const answer = (req: { id?: unknown; method?: unknown; params?: unknown }): object => ({
    jsonrpc: "2.0", id: req.id ?? null, result: req.method === "eth_chainId" ? "0x7a69" : { echo: req.method, params: req.params },
  });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      count++;
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
      const out = Array.isArray(body) ? body.map(answer) : answer(body as { id?: unknown; method?: unknown });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(out));
    });
  });
  return { server, requests: () => count };
}
