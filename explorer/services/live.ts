/** The live view's data: per-round series (with committed bytes, sized in the background) and link statistics. */
import { readFile } from "node:fs/promises";
import { allRounds, roundStats, type RoundStats } from "../rounds.ts";
import type { ExplorerContext } from "./context.ts";
import type { DialKnownPeers } from "./peers.ts";

export class LiveService {
  private resolving = false;
  private readonly sizeFailures = new Set<string>();

  constructor(
    private readonly ctx: ExplorerContext,
    private readonly dialKnownPeers: DialKnownPeers,
    private readonly linkStatsPath?: string,
  ) {}

  /** Per-round series; resolves sizes of committed CIDs in the background. */
  stats(): RoundStats[] {
    this.resolveSizesInBackground();
    return roundStats(this.ctx.index, this.ctx.content.sizes);
  }

  /** The --link-stats JSON file, or null when none is configured or it does not parse. */
  async linkStats(): Promise<unknown | null> {
    if (!this.linkStatsPath) return null;
    try {
      return JSON.parse(await readFile(this.linkStatsPath, "utf8"));
    } catch {
      return null;
    }
  }

  private resolveSizesInBackground(): void {
    if (this.resolving) return;
    const { content, index, cidTimeoutMs } = this.ctx;
    const missing = allRounds(index)
      .flatMap((r) => r.commits.map((c) => c.cid))
      .filter((cid) => !content.sizes.has(cid) && !this.sizeFailures.has(cid));
    if (missing.length === 0) return;
    this.resolving = true;
    void (async () => {
      try {
        await this.dialKnownPeers();
        for (const cid of missing.slice(0, 32)) {
          await content.get(cid, { timeoutMs: Math.min(cidTimeoutMs, 5000), referenced: true }).catch(() => this.sizeFailures.add(cid));
        }
      } finally {
        this.resolving = false;
      }
    })();
  }
}
