/**
 * The explorer's composition root: builds one service per job over a shared context (chain client,
 * event index, IPFS content) and answers the status the banners show. Pages and /api routes ask
 * the job services, which answer with plain data or throw the errors of ./services/errors.ts.
 */
import type { Interface } from "ethers";
import type { AuditRules } from "./audit.ts";
import type { ChainClient, ChainStatus } from "./chain-client.ts";
import { ChainIndex, type IndexStatus } from "./chain-index.ts";
import type { ContentStatus, ExplorerContent } from "./content.ts";
import { AuditService } from "./services/audit.ts";
import { BlockService } from "./services/blocks.ts";
import { CidService } from "./services/cids.ts";
import type { ExplorerContext } from "./services/context.ts";
import { LiveService } from "./services/live.ts";
import { PeerService } from "./services/peers.ts";
import { PrivacyService } from "./services/privacy.ts";
import { ClustersService } from "./services/clusters.ts";
import { RoundService } from "./services/rounds.ts";
import { searchTarget, type SearchTarget } from "./services/search.ts";
import { TaskService } from "./services/task.ts";

export interface ExplorerStatus {
  chain: ChainStatus;
  index: IndexStatus;
  ipfs: ContentStatus;
  contractAddress: string | null;
}

export interface ServiceOptions {
  /** How long one IPFS fetch may take (ms, default 8000). */
  cidTimeoutMs?: number;
  /** JSON file with link statistics for the live view. */
  linkStatsPath?: string;
  /** The robust rules the audit recomputes with (default: the agents' own). */
  rules?: AuditRules;
  /** Audits allowed at once; more get HTTP 429 (default 2). */
  maxConcurrentAudits?: number;
  /** Largest content a CID page or raw download fetches; more gets HTTP 413 (default 16 MiB). */
  maxCidBytes?: number;
  /** The task's PrivacyLedger (per-peer epsilon reports); none when absent. */
  privacyLedger?: string;
  /** The task's ClusterRounds side contract (D2D clusters per round); none when absent. */
  clusterRounds?: string;
  /** A private task's SecureAggregation side contract: audits recompute the sum from masked updates + revealed shares. */
  secagg?: string;
}

export class ExplorerService {
  readonly index: ChainIndex;
  readonly task: TaskService;
  readonly blocks: BlockService;
  readonly rounds: RoundService;
  readonly peers: PeerService;
  readonly cids: CidService;
  readonly audits: AuditService;
  readonly live: LiveService;
  readonly privacy: PrivacyService;
  readonly clusters: ClustersService;

  constructor(
    readonly client: ChainClient,
    readonly iface: Interface,
    readonly contractAddress: string | null,
    readonly content: ExplorerContent,
    options: ServiceOptions = {},
    index?: ChainIndex,
  ) {
    this.index = index ?? new ChainIndex(client, iface, contractAddress);
    const ctx: ExplorerContext = { client, iface, contractAddress, index: this.index, content, cidTimeoutMs: options.cidTimeoutMs ?? 8000 };
    this.task = new TaskService(ctx);
    this.blocks = new BlockService(ctx);
    this.rounds = new RoundService(ctx);
    this.peers = new PeerService(ctx);
    this.cids = new CidService(ctx, () => this.task.taskSpec(), this.peers.dialKnownPeers, options.maxCidBytes);
    this.audits = new AuditService(ctx, this.rounds, this.peers.dialKnownPeers, options.rules, options.maxConcurrentAudits, options.clusterRounds ?? null, options.secagg ?? null);
    this.live = new LiveService(ctx, this.peers.dialKnownPeers, options.linkStatsPath);
    this.privacy = new PrivacyService(ctx, options.privacyLedger ?? null);
    this.clusters = new ClustersService(ctx, options.clusterRounds ?? null, this.peers.dialKnownPeers);
  }

  status(): ExplorerStatus {
    return { chain: this.client.status(), index: this.index.status(), ipfs: this.content.status(), contractAddress: this.contractAddress };
  }

  /** Sync the index (never throws; reachability shows in status()). */
  async refresh(): Promise<void> {
    await this.index.sync();
  }

  /** Where a search query leads; null when nothing matches. */
  search(query: string): SearchTarget | null {
    return searchTarget(this.index, query);
  }
}
