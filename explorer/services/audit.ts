/**
 * The audit call site: re-verifies a finalized round (../audit.ts) against the task contract and
 * IPFS, at most `maxConcurrent` at a time — each audit fetches every update of the round.
 */
import { auditRound, type AuditResult, type AuditRules } from "../audit.ts";
import { agentRules, auditIO, contractAuditChain } from "../audit-io.ts";
import { clusterAuditIO } from "../audit-clusters.ts";
import { contractPrivateAudit } from "../audit-private.ts";
import { Contract } from "ethers";
import { ConcurrencyLimiter, SlotsBusyError } from "../concurrency.ts";
import type { ExplorerContext } from "./context.ts";
import { NotFoundError, TooManyAuditsError } from "./errors.ts";
import type { DialKnownPeers } from "./peers.ts";
import type { RoundService } from "./rounds.ts";

export const DEFAULT_MAX_CONCURRENT_AUDITS = 2;

export class AuditService {
  private readonly limiter: ConcurrencyLimiter;

  constructor(
    private readonly ctx: ExplorerContext,
    private readonly rounds: RoundService,
    private readonly dialKnownPeers: DialKnownPeers,
    private readonly rules: AuditRules = agentRules,
    maxConcurrent: number = DEFAULT_MAX_CONCURRENT_AUDITS,
    /** A clustered task's ClusterRounds: the audit then recomputes both levels (../audit-clusters.ts). */
    private readonly clusterRounds: string | null = null,
    /** A private task's SecureAggregation: the audit then unmasks the sum from the public transcript (../audit-private.ts). */
    private readonly secagg: string | null = null,
  ) {
    this.limiter = new ConcurrencyLimiter(maxConcurrent);
  }

  /** Audits running now. */
  get running(): number {
    return this.limiter.active;
  }

  /** NotFoundError for unknown rounds, TooManyAuditsError when every slot is busy. */
  async audit(r: number): Promise<AuditResult> {
    try {
      return await this.limiter.run(() => this.run(r));
    } catch (error) {
      if (error instanceof SlotsBusyError) throw new TooManyAuditsError(error.limit, error.retryAfterSeconds);
      throw error;
    }
  }

  private async run(r: number): Promise<AuditResult> {
    await this.rounds.round(r); // 404 for unknown rounds
    const { ctx } = this;
    if (!ctx.contractAddress) throw new NotFoundError("task contract", "no contract address configured");
    const provider = await ctx.client.getProvider();
    const chain = contractAuditChain(ctx.contractAddress, ctx.iface, provider);
    await this.dialKnownPeers();
    const io = auditIO(chain, (cid) => ctx.content.get(cid, { timeoutMs: ctx.cidTimeoutMs, referenced: true }), this.rules);
    if (this.clusterRounds) {
      const task = new Contract(ctx.contractAddress, ctx.iface, provider);
      io.clusters = clusterAuditIO(this.clusterRounds, ctx.contractAddress, provider, async (a) => Number((await task.getPeer(a)).peerIndex));
    }
    if (this.secagg) io.secagg = contractPrivateAudit(this.secagg, ctx.contractAddress, ctx.iface, provider);
    return ctx.client.use(() => auditRound(r, io));
  }
}
