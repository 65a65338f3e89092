/**
 * The Kubo RPC subset (`/api/v0/...`) and a read-only path gateway (`/ipfs/<cid>`) over an
 * EmbeddedStore, as express apps. Like Kubo, every RPC call is a POST, and calls that carry a
 * browser Origin/Referer or come from a non-loopback address are refused with 403 (the RPC API
 * is admin access to the node; a web page must not drive it). Both apps answer only to an
 * allow-list of Host headers (DNS rebinding), send no CORS headers, and cap `add` uploads and
 * gateway responses (413 over the cap).
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { publicKeyToProtobuf } from "@libp2p/crypto/keys";
import type { EmbeddedStore } from "./embedded-store.ts";
import {
  ContentTooLargeError, GetTimeoutError, InvalidCidError, NonLoopbackAddressError, NotAFileError,
} from "./errors.ts";
import { isLoopbackIp } from "./loopback-gater.ts";
import { MultipartError, multipartBoundary, parseMultipart } from "./multipart.ts";
import { parseCid } from "./unixfs-format.ts";

export const RPC_VERSION = "0.32.0-peerfl";

/** Default cap on one file added over RPC and on one gateway response: 64 MiB. */
export const DEFAULT_MAX_ADD_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_GATEWAY_BYTES = 64 * 1024 * 1024;
/** Room for multipart framing (boundaries, part headers) on top of the file bytes. */
const MULTIPART_SLACK_BYTES = 64 * 1024;

export interface RpcServerOptions {
  /** Largest file accepted by `add` (default 64 MiB); the request body may exceed it by the multipart framing. */
  maxAddBytes?: number;
  /** Fetch timeout when the request does not give `timeout=` (default 60 s). */
  defaultTimeoutMs?: number;
  /** Host header values accepted besides the loopback defaults (see hostAllowed). */
  allowedHosts?: readonly string[];
}

export interface GatewayOptions {
  /** Fetch timeout for the root of a file (default 60 s). */
  timeoutMs?: number;
  /** Largest file the gateway serves (default 64 MiB); larger ones get 413. */
  maxBytes?: number;
  /** Host header values accepted besides the loopback defaults (see hostAllowed). */
  allowedHosts?: readonly string[];
}

// ------------------------------------------------------------------ Host allow-list

/** The socket a request arrived on (what `req.socket` gives). */
export interface LocalEndpoint {
  localPort?: number;
  localAddress?: string;
}

/** Split a Host header value ("name:port", "[::1]:port", "name") into a lower-case host and port. */
export function splitHost(value: string): { host: string; port: number | null } | null {
  const text = value.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return null;
  return { host: m[1], port: m[2] === undefined ? null : Number(m[2]) };
}

const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

/** The IP the connection arrived on, as it appears in a Host header (IPv6 bracketed, v4-mapped unwrapped). */
function localHostLiteral(address: string | undefined): string | null {
  if (!address) return null;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1];
  return address.includes(":") ? `[${address.toLowerCase()}]` : address;
}

/** The Host values a server on this socket answers to by default: loopback names and its own IP, on its port. */
export function defaultAllowedHosts(local: LocalEndpoint): string[] {
  if (local.localPort === undefined) return [];
  const names = [...LOOPBACK_NAMES];
  const own = localHostLiteral(local.localAddress);
  if (own && !names.includes(own) && own !== "0.0.0.0" && own !== "[::]") names.push(own);
  return names.map((n) => `${n}:${local.localPort}`);
}

/**
 * Whether a Host header names this server. Accepted: the loopback names (127.0.0.1, localhost,
 * [::1]) and the IP literal the connection arrived on, each with the server's own port; and every
 * `extra` entry — "name:port" exactly, or a bare "name" on any port. A DNS-rebinding page reaches
 * the socket under its own domain name, which is none of these.
 */
export function hostAllowed(hostHeader: string | undefined, local: LocalEndpoint, extra: readonly string[] = []): boolean {
  if (hostHeader === undefined) return false;
  const given = splitHost(hostHeader);
  if (!given) return false;
  const port = given.port ?? 80;
  if (defaultAllowedHosts(local).includes(`${given.host}:${port}`)) return true;
  return extra.some((entry) => {
    const allowed = splitHost(entry);
    if (!allowed) return false;
    return allowed.host === given.host && (allowed.port === null || allowed.port === port);
  });
}

/** Why a Host header was refused, and how to allow it. */
export function hostRefusal(server: string, hostHeader: string | undefined, local: LocalEndpoint, extra: readonly string[], flag: string): string {
  const accepted = [...defaultAllowedHosts(local), ...extra].join(", ");
  return `${hostHeader === undefined ? "a request without a Host header" : `Host "${hostHeader}"`} is not allowed: ` +
    `${server} answers only to ${accepted} (a guard against DNS rebinding); ` +
    `start it with ${flag} NAME[:PORT] to accept another name`;
}

/** Express middleware: 403 for requests whose Host header is not in the allow-list. */
export function hostGuard(extra: readonly string[], server: string, flag = "--allowed-host") {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (hostAllowed(req.headers.host, req.socket, extra)) return next();
    res.status(403).type("text/plain").send(`403 - Forbidden: ${hostRefusal(server, req.headers.host, req.socket, extra, flag)}\n`);
  };
}

/** An RPC failure with the HTTP status it maps to. */
export class RpcRequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "RpcRequestError";
  }
}

/** Parse a Go duration ("500ms", "5s", "1m30s") as Kubo's `timeout=` option does. */
export function parseGoDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m != null; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] ?? "ms"] ?? 0);
    matched = re.lastIndex;
  }
  if (matched !== text.length || text.length === 0) throw new RpcRequestError(400, `invalid duration "${text}"`);
  return total;
}

function queryAll(req: Request, name: string): string[] {
  const v = req.query[name];
  if (v == null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function queryOne(req: Request, name: string): string | undefined {
  return queryAll(req, name)[0];
}

function queryBool(req: Request, name: string, fallback: boolean): boolean {
  const v = queryOne(req, name);
  if (v == null) return fallback;
  if (v === "" || v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new RpcRequestError(400, `option "${name}" must be true or false, got "${v}"`);
}

function requireArg(req: Request): string {
  const arg = queryOne(req, "arg");
  if (arg == null || arg === "") throw new RpcRequestError(400, "argument \"arg\" is required");
  return arg;
}

/** Map store errors to HTTP statuses and Kubo's JSON error body. */
function sendError(res: Response, err: unknown): void {
  const status = err instanceof RpcRequestError ? err.status
    : err instanceof InvalidCidError || err instanceof MultipartError || err instanceof NotAFileError
      || err instanceof NonLoopbackAddressError || err instanceof RangeError ? 400
      : err instanceof ContentTooLargeError ? 413
        : err instanceof GetTimeoutError ? 504 : 500;
  const message = err instanceof Error ? err.message : String(err);
  if (res.headersSent) {
    res.destroy(err instanceof Error ? err : new Error(message));
    return;
  }
  res.status(status).type("application/json").send(JSON.stringify({ Message: message, Code: 0, Type: "error" }));
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** Refuse browser-originated and non-loopback RPC calls, as Kubo does by default. */
export function rpcAccessGuard(req: Request, res: Response, next: NextFunction): void {
  if (!isLoopbackIp(req.socket.remoteAddress)) {
    res.status(403).type("text/plain").send(`403 - Forbidden: RPC is loopback-only (remote ${req.socket.remoteAddress ?? "?"})\n`);
    return;
  }
  if (req.headers.origin != null || req.headers.referer != null) {
    res.status(403).type("text/plain").send("403 - Forbidden: RPC refuses browser requests (Origin/Referer header)\n");
    return;
  }
  next();
}

export function createRpcApp(store: EmbeddedStore, opts: RpcServerOptions = {}): express.Express {
  const maxAddBytes = positiveLimit("maxAddBytes", opts.maxAddBytes ?? DEFAULT_MAX_ADD_BYTES);
  const defaultTimeoutMs = opts.defaultTimeoutMs ?? 60_000;
  const app = express();
  app.disable("x-powered-by");
  app.use(hostGuard(opts.allowedHosts ?? [], "the IPFS RPC API"));
  app.use("/api/v0", rpcAccessGuard);
  app.use("/api/v0", (req, res, next) => {
    if (req.method !== "POST") {
      res.status(405).type("text/plain").send(`405 - Method Not Allowed: use POST for ${req.path}\n`);
      return;
    }
    next();
  });

  const timeoutOf = (req: Request): number => {
    const t = queryOne(req, "timeout");
    return t == null ? defaultTimeoutMs : parseGoDuration(t);
  };
  const route = (path: string, handler: Handler): void => {
    app.post(`/api/v0/${path}`, (req, res) => { handler(req, res).catch((err: unknown) => sendError(res, err)); });
  };

  route("add", async (req, res) => {
    const cidVersion = Number(queryOne(req, "cid-version") ?? "0");
    if (cidVersion !== 0 && cidVersion !== 1) throw new RpcRequestError(400, `unknown CID version ${cidVersion}`);
    const rawLeaves = queryBool(req, "raw-leaves", cidVersion === 1);
    if (rawLeaves !== (cidVersion === 1)) {
      throw new RpcRequestError(400, `raw-leaves=${rawLeaves} with cid-version=${cidVersion} is not supported (peerfl adds Kubo's default layouts only)`);
    }
    const chunker = queryOne(req, "chunker");
    if (chunker != null && chunker !== "" && chunker !== "size-262144") {
      throw new RpcRequestError(400, `chunker "${chunker}" is not supported (only size-262144)`);
    }
    const hash = queryOne(req, "hash");
    if (hash != null && hash !== "sha2-256") throw new RpcRequestError(400, `hash "${hash}" is not supported (only sha2-256)`);
    for (const flag of ["trickle", "only-hash", "wrap-with-directory", "inline", "nocopy"]) {
      if (queryBool(req, flag, false)) throw new RpcRequestError(400, `option "${flag}" is not supported`);
    }
    const pin = queryBool(req, "pin", true);
    const progress = queryBool(req, "progress", false);
    const body = await readBody(req, maxAddBytes + MULTIPART_SLACK_BYTES, maxAddBytes);
    const parts = parseMultipart(body, multipartBoundary(req.headers["content-type"]));
    const files = parts.filter((p) => p.field.startsWith("file"));
    if (parts.some((p) => p.field.startsWith("dir"))) throw new RpcRequestError(400, "adding directories is not supported");
    if (files.length === 0) throw new RpcRequestError(400, "no file part in the request body");
    const tooBig = files.find((f) => f.body.length > maxAddBytes);
    if (tooBig) throw new RpcRequestError(413, addTooLarge(`file "${tooBig.filename}" has ${tooBig.body.length} bytes`, maxAddBytes));
    res.status(200).type("application/json").setHeader("X-Chunked-Output", "1");
    for (const file of files) {
      const { cid, size } = await store.add(file.body, { cidVersion, pin });
      if (progress) res.write(JSON.stringify({ Name: file.filename, Bytes: file.body.length }) + "\n");
      res.write(JSON.stringify({ Name: file.filename === "" ? cid : file.filename, Hash: cid, Size: String(size) }) + "\n");
    }
    res.end();
  });

  route("cat", async (req, res) => {
    const args = queryAll(req, "arg");
    if (args.length === 0) throw new RpcRequestError(400, "argument \"ipfs-path\" is required");
    const offset = Number(queryOne(req, "offset") ?? "0");
    const lengthText = queryOne(req, "length");
    const length = lengthText == null ? undefined : Number(lengthText);
    if (!Number.isInteger(offset) || offset < 0) throw new RpcRequestError(400, `cannot specify negative offset (${String(offset)})`);
    if (length != null && (!Number.isInteger(length) || length < 0)) throw new RpcRequestError(400, `cannot specify negative length (${String(length)})`);
    const closed = new AbortController();
    res.on("close", () => closed.abort());
    // Resolve every root first so errors (bad CID, timeout) still get a proper status code.
    const files = [];
    for (const arg of args) {
      files.push(await store.open(arg, {
        timeoutMs: timeoutOf(req), maxBytes: Number.MAX_SAFE_INTEGER, signal: closed.signal, offset, length,
      }));
    }
    res.status(200).type("text/plain")
      .setHeader("X-Stream-Output", "1")
      .setHeader("X-Content-Length", String(files.reduce((n, f) => n + f.size, 0)));
    for (const file of files) {
      for await (const chunk of file.content) {
        if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve));
      }
    }
    res.end();
  });

  route("block/get", async (req, res) => {
    const bytes = await store.getBlock(requireArg(req), { timeoutMs: timeoutOf(req), offline: queryBool(req, "offline", false) });
    res.status(200).type("text/plain").send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });

  route("block/stat", async (req, res) => {
    const arg = requireArg(req);
    const bytes = await store.getBlock(arg, { timeoutMs: timeoutOf(req), offline: queryBool(req, "offline", false) });
    res.json({ Key: parseCid(arg).toString(), Size: bytes.length });
  });

  route("pin/add", async (req, res) => {
    const args = queryAll(req, "arg");
    if (args.length === 0) throw new RpcRequestError(400, "argument \"ipfs-path\" is required");
    if (!queryBool(req, "recursive", true)) throw new RpcRequestError(400, "direct pins are not supported");
    const pins: string[] = [];
    for (const arg of args) {
      await store.pin(arg, { timeoutMs: timeoutOf(req) });
      pins.push(parseCid(arg).toString());
    }
    res.json({ Pins: pins });
  });

  route("pin/ls", async (req, res) => {
    const type = queryOne(req, "type") ?? "all";
    if (!["all", "recursive", "direct", "indirect"].includes(type)) throw new RpcRequestError(400, `invalid type "${type}"`);
    const args = queryAll(req, "arg").map((a) => parseCid(a).toString());
    const all = type === "recursive" || type === "all" ? await store.listPins() : [];
    for (const arg of args) {
      if (!all.includes(arg)) throw new RpcRequestError(500, `path '${arg}' is not pinned`);
    }
    const pins = args.length > 0 ? args : all;
    if (queryBool(req, "stream", false)) {
      res.status(200).type("application/json").setHeader("X-Chunked-Output", "1");
      for (const cid of pins) res.write(JSON.stringify({ Cid: cid, Type: "recursive", Name: "" }) + "\n");
      res.end();
      return;
    }
    res.json({ Keys: Object.fromEntries(pins.map((cid) => [cid, { Type: "recursive", Name: "" }])) });
  });

  route("pin/rm", async (req, res) => {
    const args = queryAll(req, "arg");
    if (args.length === 0) throw new RpcRequestError(400, "argument \"ipfs-path\" is required");
    const pins: string[] = [];
    for (const arg of args) {
      if (!(await store.isPinned(arg))) throw new RpcRequestError(500, `${arg} is not pinned or pinned indirectly`);
      await store.unpin(arg);
      pins.push(parseCid(arg).toString());
    }
    res.json({ Pins: pins });
  });

  route("id", async (_req, res) => {
    const peerId = store.helia.libp2p.peerId;
    res.json({
      ID: peerId.toString(),
      PublicKey: peerId.publicKey == null ? "" : Buffer.from(publicKeyToProtobuf(peerId.publicKey)).toString("base64"),
      Addresses: await store.multiaddrs(),
      AgentVersion: `peerfl/${RPC_VERSION}`,
      Protocols: store.helia.libp2p.getProtocols(),
    });
  });

  route("version", async (_req, res) => {
    res.json({ Version: RPC_VERSION, Commit: "", Repo: "peerfl-helia", System: `${process.arch}/${process.platform}`, Golang: `node ${process.version}` });
  });

  route("swarm/connect", async (req, res) => {
    const args = queryAll(req, "arg");
    if (args.length === 0) throw new RpcRequestError(400, "argument \"address\" is required");
    const strings: string[] = [];
    for (const arg of args) {
      await store.dial(arg, { timeoutMs: timeoutOf(req) });
      strings.push(`connect ${arg.split("/p2p/")[1] ?? arg} success`);
    }
    res.json({ Strings: strings });
  });

  route("swarm/peers", async (_req, res) => {
    const conns = store.helia.libp2p.getConnections();
    res.json({ Peers: conns.map((c) => ({ Addr: c.remoteAddr.toString(), Peer: c.remotePeer.toString() })) });
  });

  app.use("/api/v0", (req, res) => {
    res.status(404).type("text/plain").send(`404 page not found: ${req.path} is not in peerfl's Kubo RPC subset\n`);
  });
  return app;
}

/**
 * Read-only gateway: GET/HEAD /ipfs/<cid> (files only, no paths inside directories), at most
 * `maxBytes` per file. No CORS headers: a web page on another origin cannot read what it serves.
 */
export function createGatewayApp(store: EmbeddedStore, opts: GatewayOptions = {}): express.Express {
  const maxBytes = positiveLimit("maxBytes", opts.maxBytes ?? DEFAULT_MAX_GATEWAY_BYTES);
  const app = express();
  app.disable("x-powered-by");
  app.use(hostGuard(opts.allowedHosts ?? [], "the IPFS gateway"));
  app.use((req, res, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.status(405).setHeader("Allow", "GET, HEAD").type("text/plain").send("405 - Method Not Allowed: the gateway is read-only\n");
      return;
    }
    next();
  });
  app.get("/ipfs/:cid", (req, res) => {
    void (async () => {
      const cid = String(req.params.cid);
      const closed = new AbortController();
      res.on("close", () => closed.abort());
      try {
        const file = await store.open(cid, { timeoutMs: opts.timeoutMs ?? 60_000, maxBytes, signal: closed.signal });
        const etag = `"${file.cid}"`;
        res.status(200)
          .setHeader("Content-Type", "application/octet-stream")
          .setHeader("Content-Length", String(file.size))
          .setHeader("Etag", etag)
          .setHeader("X-Ipfs-Path", `/ipfs/${file.cid}`)
          .setHeader("Cache-Control", "public, max-age=29030400, immutable");
        if (req.method === "HEAD" || req.headers["if-none-match"] === etag) {
          if (req.headers["if-none-match"] === etag) res.status(304);
          res.end();
          return;
        }
        for await (const chunk of file.content) {
          if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve));
        }
        res.end();
      } catch (err) {
        // A root that understated its size is cut off mid-stream: the client sees a short body.
        if (res.headersSent) { res.destroy(); return; }
        const status = err instanceof InvalidCidError || err instanceof NotAFileError ? 400
          : err instanceof ContentTooLargeError ? 413
            : err instanceof GetTimeoutError ? 504 : 500;
        const message = err instanceof ContentTooLargeError
          ? `${err.message} (the gateway's limit; raise it with --max-gateway-bytes, or read it with \`peerfl ipfs cat\`)`
          : err instanceof Error ? err.message : String(err);
        res.status(status).type("text/plain").send(`${message}\n`);
      }
    })();
  });
  app.use((req, res) => { res.status(404).type("text/plain").send(`404 page not found: ${req.path}\n`); });
  return app;
}

function positiveLimit(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer of bytes, got ${value}`);
  return value;
}

function addTooLarge(what: string, maxAddBytes: number): string {
  return `${what}, more than the limit of ${maxAddBytes} bytes per added file (start the daemon with a larger --max-add-bytes)`;
}

/** Buffer a request body of at most `limit` bytes (413 beyond; `maxAddBytes` only names the file limit). */
async function readBody(req: Request, limit: number, maxAddBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"] ?? "NaN");
  if (declared > limit) throw new RpcRequestError(413, addTooLarge(`the request body declares ${declared} bytes`, maxAddBytes));
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new RpcRequestError(413, addTooLarge(`the request body exceeds ${limit} bytes`, maxAddBytes));
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
