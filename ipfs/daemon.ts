/**
 * `peerfl ipfs daemon`: an embedded Helia node plus the Kubo RPC subset and a read-only gateway,
 * all on 127.0.0.1, so kubo-rpc-client, curl and `--ipfs-api URL` users can share one node.
 * Both HTTP servers answer only to loopback Host names (plus `allowedHosts`) and cap their bodies.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../node/lib/log.ts";
import { createEmbeddedStore, type EmbeddedStore } from "./embedded-store.ts";
import { createGatewayApp, createRpcApp, type RpcServerOptions } from "./rpc-server.ts";

export interface DaemonOptions extends RpcServerOptions {
  repoDir: string;
  /** RPC port on 127.0.0.1 (Kubo: 5001); 0 picks a free one. */
  apiPort?: number;
  /** Gateway port on 127.0.0.1 (Kubo: 8080); 0 picks a free one, -1 disables the gateway. */
  gatewayPort?: number;
  /** libp2p TCP port on 127.0.0.1 (Kubo: 4001); 0 picks a free one. */
  swarmPort?: number;
  /** Largest file the gateway serves (default 64 MiB; 413 beyond). */
  maxGatewayBytes?: number;
  logger?: Logger;
}

export interface RunningDaemon {
  store: EmbeddedStore;
  /** e.g. http://127.0.0.1:5001 (what `--ipfs-api` and kubo-rpc-client take). */
  apiUrl: string;
  gatewayUrl: string | undefined;
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const store = await createEmbeddedStore({ repoDir: opts.repoDir, listenPort: opts.swarmPort ?? 0, logger: opts.logger });
  const servers: Server[] = [];
  try {
    const api = await listen(createRpcApp(store, opts), opts.apiPort ?? 0);
    servers.push(api);
    const gatewayPort = opts.gatewayPort ?? 0;
    const gateway = gatewayPort < 0 ? undefined : await listen(createGatewayApp(store, { maxBytes: opts.maxGatewayBytes, allowedHosts: opts.allowedHosts }), gatewayPort);
    if (gateway != null) servers.push(gateway);
    const apiUrl = `http://${HOST}:${(api.address() as AddressInfo).port}`;
    const gatewayUrl = gateway == null ? undefined : `http://${HOST}:${(gateway.address() as AddressInfo).port}`;
    opts.logger?.info("ipfs.daemon.ready", { api: apiUrl, gateway: gatewayUrl, repo: store.repoDir });
    let stopping: Promise<void> | undefined;
    return {
      store, apiUrl, gatewayUrl,
      stop: () => (stopping ??= (async () => {
        await Promise.all(servers.map(closeServer));
        await store.stop();
      })()),
    };
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    await store.stop();
    throw err;
  }
}

function listen(app: (req: never, res: never) => void, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = (app as unknown as { listen: (port: number, host: string) => Server }).listen(port, HOST);
    server.once("listening", () => resolve(server));
    server.once("error", reject);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
