/**
 * The explorer's HTTP server (express 5): server-rendered pages, a JSON API under /api mirroring
 * them, server-sent events on new blocks, and the audit endpoint. Listens on 127.0.0.1 by default,
 * answers only to its own Host names and refuses cross-origin POSTs (./security.ts); audits run at
 * most N at a time (429 beyond) and CID pages fetch at most a byte cap (413 beyond).
 */
import { PROJECT_ROOT } from "../node/lib/paths.ts";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { createRequire } from "node:module";
import { ChainUnreachableError, errorMessage } from "./chain-client.ts";
import { requestGuard } from "./security.ts";
import type { ExplorerService } from "./service.ts";
import { CidTooLargeError, NotFoundError, TooManyAuditsError } from "./services/errors.ts";
import { jsonReplacer } from "./values.ts";
import { errorPage, notFoundPage } from "./views/layout.ts";
import {
  addressPage, blockPage, blocksPage, cidPage, livePage, overviewPage, peersPage, roundPage, roundsPage, txPage,
} from "./views/pages.ts";
import { clustersPage } from "./views/clusters.ts";
import { linkBytesByMedium } from "./cluster-report.ts";
import { privacyPage } from "./views/privacy.ts";

// Static assets stay in the source tree (also when this runs compiled from dist/).
const here = path.join(PROJECT_ROOT, "explorer");
const require = createRequire(import.meta.url);
// chart.js does not export its UMD bundle as a subpath; it sits next to the package's main file.
const CHART_JS = path.join(path.dirname(require.resolve("chart.js")), "chart.umd.js");

export interface ExplorerAppOptions {
  /**
   * Host header values accepted besides 127.0.0.1, localhost and [::1] on the server's port (and
   * the IP it listens on): "name:port", or "name" on any port. Everything else gets 403.
   */
  allowedHosts?: readonly string[];
}

export interface ExplorerServerOptions extends ExplorerAppOptions {
  host?: string;
  port?: number;
  /** How often the chain is polled for new blocks (ms). */
  pollMs?: number;
}

export interface RunningExplorer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).type("application/json").send(JSON.stringify(body, jsonReplacer));
}

export function createExplorerApp(
  service: ExplorerService,
  options: ExplorerAppOptions = {},
): { app: express.Express; broadcast: (event: string, data: unknown) => void } {
  const { task, blocks, rounds, peers, cids, audits, live } = service;
  const app = express();
  app.disable("x-powered-by");
  const clients = new Set<Response>();
  const blockEvent = (b: { number: number; timestamp: number; txHashes: string[]; gasUsed: bigint }): string =>
    `event: block\ndata: ${JSON.stringify({ number: b.number, timestamp: b.timestamp, txCount: b.txHashes.length, gasUsed: b.gasUsed }, jsonReplacer)}\n\n`;
  const broadcast = (event: string, data: unknown): void => {
    const payload = `event: ${event}\ndata: ${JSON.stringify(data, jsonReplacer)}\n\n`;
    for (const res of clients) res.write(payload);
  };

  // Before anything else: only our own Host names, and no POSTs from other origins.
  app.use(requestGuard(options.allowedHosts ?? []));

  // Static assets: our CSS/JS and Chart.js from node_modules (no CDN).
  app.get("/assets/chart.umd.js", (_req, res) => {
    res.type("application/javascript").sendFile(CHART_JS);
  });
  app.use("/assets", express.static(path.join(here, "assets"), { maxAge: 0 }));

  // Every page/API request first catches the index up with the chain (cheap when nothing is new).
  app.use(async (req, _res, next) => {
    if (!req.path.startsWith("/assets") && req.path !== "/api/events") await service.refresh();
    next();
  });

  const roundParam = (req: Request): number => {
    const text = String(req.params.round);
    if (!/^\d+$/.test(text)) throw new NotFoundError("round", `"${text}" is not a round number`);
    return Number(text);
  };

  // ------------------------------------------------------------------ JSON API
  app.get("/api/status", (_req, res) => sendJson(res, 200, service.status()));
  app.get("/api/task", async (_req, res) => sendJson(res, 200, await task.taskInfo()));
  app.get("/api/blocks", (req, res) => {
    const before = req.query.before ? Number(req.query.before) : undefined;
    sendJson(res, 200, blocks.latestBlocks(Number(req.query.count ?? 20) || 20, before));
  });
  app.get("/api/blocks/:id", async (req, res) => sendJson(res, 200, await blocks.block(String(req.params.id))));
  app.get("/api/txs", (_req, res) => sendJson(res, 200, blocks.latestContractTxs(100)));
  app.get("/api/txs/:hash", async (req, res) => sendJson(res, 200, await blocks.tx(String(req.params.hash))));
  app.get("/api/addresses/:address", async (req, res) => sendJson(res, 200, await peers.address(String(req.params.address))));
  app.get("/api/peers", (_req, res) => sendJson(res, 200, peers.peers()));
  app.get("/api/rounds", (_req, res) => sendJson(res, 200, rounds.rounds()));
  app.get("/api/privacy", async (_req, res) => sendJson(res, 200, await service.privacy.report()));
  app.get("/api/clusters", async (_req, res) => sendJson(res, 200, await service.clusters.report()));
  app.get("/api/link-media", async (_req, res) => sendJson(res, 200, linkBytesByMedium(await live.linkStats())));
  app.get("/api/rounds/:round", async (req, res) => sendJson(res, 200, await rounds.round(roundParam(req))));
  app.post("/api/rounds/:round/audit", async (req, res) => sendJson(res, 200, await audits.audit(roundParam(req))));
  app.get("/api/cids/:cid", async (req, res) => sendJson(res, 200, await cids.cid(String(req.params.cid))));
  app.get("/api/stats", async (_req, res) => sendJson(res, 200, { rounds: live.stats(), linkStats: await live.linkStats() }));
  app.get("/api/events", async (req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    res.write(`event: hello\ndata: ${JSON.stringify({ status: service.status() }, jsonReplacer)}\n\n`);
    // A short backlog, so a fresh live view shows the latest blocks at once.
    for (const b of blocks.latestBlocks(10).reverse()) res.write(blockEvent(b));
    clients.add(res);
    req.on("close", () => clients.delete(res));
  });
  app.get("/api/search", async (req, res) => {
    const target = service.search(String(req.query.q ?? ""));
    if (!target) throw new NotFoundError("search result", `nothing matches "${String(req.query.q ?? "")}"`);
    sendJson(res, 200, target);
  });
  app.use("/api", (req, _res) => {
    throw new NotFoundError("API route", `${req.method} ${req.originalUrl}`);
  });

  // ------------------------------------------------------------------ pages
  const html = (res: Response, body: string, status = 200) => res.status(status).type("text/html; charset=utf-8").send(body);
  app.get("/", async (_req, res) => {
    const info = await task.taskInfo();
    html(res, overviewPage(service.status(), info, rounds.rounds(), blocks.latestBlocks(8), blocks.latestContractTxs(8)));
  });
  app.get("/blocks", (req, res) => {
    const before = req.query.before ? Number(req.query.before) : undefined;
    html(res, blocksPage(service.status(), blocks.latestBlocks(30, before)));
  });
  app.get("/block/:id", async (req, res) => html(res, blockPage(service.status(), await blocks.block(String(req.params.id)))));
  app.get("/tx/:hash", async (req, res) => html(res, txPage(service.status(), await blocks.tx(String(req.params.hash)))));
  app.get("/address/:address", async (req, res) => {
    const detail = await peers.address(String(req.params.address));
    const isTask = detail.kind === "task-contract";
    html(res, addressPage(service.status(), detail, isTask ? await task.taskInfo() : undefined, isTask ? blocks.latestContractTxs(200) : undefined));
  });
  app.get("/peers", (_req, res) => html(res, peersPage(service.status(), peers.peers())));
  app.get("/rounds", (_req, res) => html(res, roundsPage(service.status(), rounds.rounds())));
  app.get("/round/:round", async (req, res) => html(res, roundPage(service.status(), await rounds.round(roundParam(req)), await service.privacy.forRound(roundParam(req)))));
  app.get("/privacy", async (_req, res) => html(res, privacyPage(service.status(), await service.privacy.report())));
  app.get("/clusters", async (_req, res) => html(res, clustersPage(service.status(), await service.clusters.report())));
  app.get("/cid/:cid/raw", async (req, res) => {
    const { cid, bytes } = await cids.cidBytes(String(req.params.cid));
    res.status(200).type("application/octet-stream").attachment(`${cid}.bin`).send(Buffer.from(bytes));
  });
  app.get("/cid/:cid", async (req, res) => html(res, cidPage(service.status(), await cids.cid(String(req.params.cid)))));
  app.get("/live", async (_req, res) => html(res, livePage(service.status(), await live.linkStats())));
  app.get("/search", async (req, res) => {
    const q = String(req.query.q ?? "");
    const target = service.search(q);
    if (!target) return html(res, notFoundPage(service.status(), "search result", `Nothing matches "${q}". Try a block number, a transaction hash, an address, "round 3" or a CID.`), 404);
    res.redirect(302, target.path);
  });

  app.use((req, _res) => {
    throw new NotFoundError("page", `no page at ${req.originalUrl}`);
  });

  // ------------------------------------------------------------------ errors
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const api = req.path.startsWith("/api");
    if (error instanceof NotFoundError) {
      if (api) return sendJson(res, 404, { error: "not-found", what: error.what, message: error.message });
      return html(res, notFoundPage(service.status(), error.what, error.detail), 404);
    }
    if (error instanceof TooManyAuditsError) {
      res.setHeader("Retry-After", String(error.retryAfterSeconds));
      return sendJson(res, 429, { error: "too-many-audits", limit: error.limit, retryAfterSeconds: error.retryAfterSeconds, message: error.message });
    }
    if (error instanceof CidTooLargeError) {
      if (api) return sendJson(res, 413, { error: "content-too-large", cid: error.cid, maxBytes: error.maxBytes, sizeBytes: error.sizeBytes, message: error.message });
      return html(res, errorPage(service.status(), "Content too large", error.message), 413);
    }
    if (error instanceof ChainUnreachableError) {
      if (api) return sendJson(res, 503, { error: "chain-unreachable", message: error.message });
      return html(res, errorPage(service.status(), "Chain unreachable", `${error.message}. The page needs a live node; try again when it is back.`), 503);
    }
    if (api) return sendJson(res, 500, { error: "internal", message: errorMessage(error) });
    return html(res, errorPage(service.status(), "Something went wrong", errorMessage(error)), 500);
  });

  return { app, broadcast };
}

/** Start the server and the block poller that feeds the live view. */
export async function startExplorerServer(service: ExplorerService, options: ExplorerServerOptions = {}): Promise<RunningExplorer> {
  const { app, broadcast } = createExplorerApp(service, { allowedHosts: options.allowedHosts });
  const host = options.host ?? "127.0.0.1";
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port ?? 8600, host, (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;

  let lastHead = -1;
  let lastChainOk: boolean | null = null;
  let lastIpfsOk: boolean | null = null;
  let stopped = false;
  const poll = async (): Promise<void> => {
    await service.refresh();
    const status = service.status();
    const head = status.index.indexedTo;
    if (head > lastHead) {
      const blocks = service.blocks.latestBlocks(Math.min(10, head - lastHead));
      for (const b of blocks.reverse()) broadcast("block", { number: b.number, timestamp: b.timestamp, txCount: b.txHashes.length, gasUsed: b.gasUsed });
      lastHead = head;
    } else if (head < lastHead) {
      lastHead = head; // the chain was reset
    }
    if (status.chain.reachable !== lastChainOk || status.ipfs.reachable !== lastIpfsOk) {
      broadcast("status", status);
      lastChainOk = status.chain.reachable;
      lastIpfsOk = status.ipfs.reachable;
    }
  };
  const timer = setInterval(() => {
    if (!stopped) void poll();
  }, options.pollMs ?? 1000);
  timer.unref();
  const keepAlive = setInterval(() => broadcast("ping", Date.now()), 15_000);
  keepAlive.unref();

  return {
    url: `http://${host}:${port}`,
    server,
    async close() {
      stopped = true;
      clearInterval(timer);
      clearInterval(keepAlive);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
