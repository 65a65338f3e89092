/** Wiring shared by `peerfl explorer` and `peerfl audit`: ABI, chain client, IPFS access, service. */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createEmbeddedStore } from "../ipfs/embedded-store.ts";
import { createKuboStore } from "../ipfs/kubo-store.ts";
import { federatedTaskInterface, REPO_ROOT } from "./abi.ts";
import { ChainClient } from "./chain-client.ts";
import { ExplorerContent } from "./content.ts";
import { ExplorerService, type ServiceOptions } from "./service.ts";

export const DEPLOYED_ADDRESSES = path.join(REPO_ROOT, "ignition", "deployments", "chain-31337", "deployed_addresses.json");
export const DEPLOYMENT_KEY = "FederatedTaskModule#FederatedTask";

/** The task address Ignition recorded for the local chain, or null. */
export function deployedTaskAddress(file: string = DEPLOYED_ADDRESSES): string | null {
  if (!existsSync(file)) return null;
  try {
    const addresses = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
    return addresses[DEPLOYMENT_KEY] ?? null;
  } catch {
    return null;
  }
}

export interface ContentOptions {
  /** Kubo RPC URL; when absent an embedded Helia node is started. */
  ipfsApi?: string;
  /** Repo for the embedded node; a temp dir (removed on stop) when absent. */
  ipfsRepo?: string;
}

/** IPFS access for the explorer: Kubo API when given, else an embedded node on a loopback port. */
export function createContent(o: ContentOptions): { content: ExplorerContent; cleanup: () => Promise<void> } {
  let tempDir: string | null = null;
  const content = o.ipfsApi
    ? new ExplorerContent(`kubo ${o.ipfsApi}`, async () => createKuboStore({ apiUrl: o.ipfsApi!, requestTimeoutMs: 10_000 }))
    : new ExplorerContent("embedded node", async () => {
        const repoDir = o.ipfsRepo ?? (tempDir = await mkdtemp(path.join(os.tmpdir(), "peerfl-explorer-ipfs-")));
        return createEmbeddedStore({ repoDir, listenPort: 0 });
      });
  return {
    content,
    cleanup: async () => {
      await content.stop().catch(() => undefined);
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    },
  };
}

export interface ExplorerSetup {
  service: ExplorerService;
  client: ChainClient;
  content: ExplorerContent;
  close(): Promise<void>;
}

export function createExplorerService(o: { rpcUrl: string; contractAddress: string | null } & ContentOptions & ServiceOptions): ExplorerSetup {
  const client = new ChainClient(o.rpcUrl);
  const iface = federatedTaskInterface();
  const { content, cleanup } = createContent(o);
  const service = new ExplorerService(client, iface, o.contractAddress, content, {
    cidTimeoutMs: o.cidTimeoutMs,
    linkStatsPath: o.linkStatsPath,
    rules: o.rules,
    maxConcurrentAudits: o.maxConcurrentAudits,
    maxCidBytes: o.maxCidBytes,
    privacyLedger: o.privacyLedger,
    clusterRounds: o.clusterRounds,
    secagg: o.secagg,
  });
  return {
    service,
    client,
    content,
    async close() {
      await client.close();
      await cleanup();
    },
  };
}
