/**
 * Clusters: the task's ClusterRounds side contract (contracts/ClusterRounds.sol) seen from the
 * explorer — per round the clustering every peer recomputes (scenario from IPFS, committers from the
 * chain, the public seed), what each head recorded, who went over Uu alone, and each peer's modeled
 * energy (explorer/cluster-report.ts). Whether a head's aggregate reproduces from its members' CIDs is
 * the audit's job (the round page's audit, `peerfl audit --cluster-rounds`): it fetches every update.
 */
import { Contract } from "ethers";
import { bitsOf, clusterRoundsReader, type ClusterConfig } from "../../node/roles/cluster-chain.ts";
import { clusterSeed, roundClustering, slotOf, type ClusterSetup } from "../../node/protocol/cluster-round.ts";
import type { DeviceConfig } from "../../node/devices/session.ts";
import { clusterSetupFrom } from "../../node/roles/cluster-roles.ts";
import { cidToString } from "../cid.ts";
import { parseCid } from "../../node/protocol/index.ts";
import { roundEnergy, type PeerRoundEnergy } from "../cluster-report.ts";
import type { ExplorerContext } from "./context.ts";
import type { DialKnownPeers } from "./peers.ts";

export interface ClusterRow {
  head: number;
  /** the clustering's members (head first) */
  members: number[];
  recorded: boolean;
  /** the record's members are the recomputed clustering's members, or a subset of them holding the head */
  membersMatch: boolean | null;
  /** clustering members the record left out (the head could not fetch them): judged alone, over Uu */
  leftOut: number[];
  included: number[];
  aggregateCid: string | null;
  acceptedSamples: number;
  /** the committee verifier that challenged the record (null: nobody); whether it was right is the audit's job */
  challengedBy: string | null;
}

export interface ClusterRoundReport {
  round: number;
  committed: number[];
  clusters: ClusterRow[];
  /** records by peers that head no cluster of the clustering */
  strayHeads: number[];
  lone: number[];
  /** the sampled-check seed drawn on chain after the record window (null: not drawn) */
  checkSeed: string | null;
  energy: PeerRoundEnergy[];
  /** false while some update sizes are not known yet */
  energyComplete: boolean;
}

export interface ClustersReport {
  address: string;
  config: (Omit<ClusterConfig, "scenarioCid"> & { scenarioCid: string }) | null;
  scenarioName: string | null;
  rounds: ClusterRoundReport[];
}

/** Fetch at most this many update bodies per report to learn their sizes (the rest come on later loads). */
const MAX_SIZE_FETCHES = 48;

export class ClustersService {
  private setup?: ClusterSetup;

  /** `dialKnownPeers`: connects the explorer's IPFS node to the task's peers (the scenario and the update sizes are on IPFS). */
  constructor(private readonly ctx: ExplorerContext, readonly address: string | null, private readonly dialKnownPeers?: DialKnownPeers) {}

  /** The whole task's clusters; null without an address. Throws when the chain cannot be read. */
  async report(): Promise<ClustersReport | null> {
    if (!this.address || !this.ctx.contractAddress) return null;
    const provider = await this.ctx.client.getProvider();
    const reader = clusterRoundsReader(this.address, provider);
    const config = await reader.config();
    if (!config) return { address: this.address, config: null, scenarioName: null, rounds: [] };
    await this.dialKnownPeers?.();
    this.setup ??= clusterSetupFrom(await this.ctx.content.get(config.scenarioCid.toString(), { timeoutMs: this.ctx.cidTimeoutMs, referenced: true }), config);
    const setup = this.setup;
    const task = new Contract(this.ctx.contractAddress, this.ctx.iface, provider);
    const current = Number(await task.currentRound());
    const peerIndex = new Map<string, number>();
    const indexOf = async (a: string) => {
      const k = a.toLowerCase();
      if (!peerIndex.has(k)) peerIndex.set(k, Number((await task.getPeer(a)).peerIndex));
      return peerIndex.get(k)!;
    };
    let budget = MAX_SIZE_FETCHES;
    const sizeOf = async (cid: string): Promise<number | null> => {
      const known = this.ctx.content.sizes.get(cid);
      if (known !== undefined) return known;
      if (budget <= 0) return null;
      budget--;
      try {
        return (await this.ctx.content.get(cid, { timeoutMs: Math.min(this.ctx.cidTimeoutMs, 5000), referenced: true })).length;
      } catch {
        return null;
      }
    };
    const rounds: ClusterRoundReport[] = [];
    for (let r = 1; r <= current; r++) {
      const state = await task.getRound(r);
      const count = Number(state.commitCount);
      if (count === 0) continue;
      const commits = [];
      for (let i = 0; i < count; i++) {
        const c = await task.getCommit(r, i);
        const cid = cidToString(c.cid);
        commits.push({ index: i, peerIndex: await indexOf(String(c.trainer)), trainer: String(c.trainer), cid: parseCid(cid), numSamples: Number(c.numSamples) });
      }
      const clustering = roundClustering(setup, commits, clusterSeed(this.ctx.contractAddress, r, cidToString(state.globalModelCid)));
      const records = new Map((await reader.records(r)).map((x) => [x.headIndex, x]));
      const challenges = await reader.challenges(r);
      const checkSeed = (await reader.checkSeed(r)).seed;
      const heads = new Set(clustering.clusters.map((c) => c.head));
      const clusters: ClusterRow[] = clustering.clusters.map((c) => {
        const members = c.members.map((m) => m.peer);
        const rec = records.get(c.head);
        const recorded = rec ? bitsOf(rec.members) : [];
        return {
          head: c.head, members, recorded: !!rec, membersMatch: rec ? recorded.every((p) => members.includes(p)) : null,
          leftOut: rec ? members.filter((p) => !recorded.includes(p)) : [],
          included: rec ? bitsOf(rec.included) : [], aggregateCid: rec?.aggregateCid?.toString() ?? null, acceptedSamples: rec?.acceptedSamples ?? 0,
          challengedBy: challenges.get(c.head) ?? null,
        };
      });
      // members of a recorded, matching cluster took the sidelink; everyone else went over Uu alone
      const onSidelink = clusters.filter((c) => c.recorded && c.membersMatch);
      const sidelinkPeers = new Set(onSidelink.flatMap((c) => c.members.filter((p) => !c.leftOut.includes(p))));
      const energyInputs = await Promise.all(commits.map(async (c) => ({ peer: c.peerIndex, samples: c.numSamples, updateBytes: await sizeOf(c.cid.toString()) })));
      // each peer's device tier is the one at its scenario position
      const devicesByPeer: DeviceConfig[] = [];
      for (const c of commits) { const slot = slotOf(setup, c); if (slot >= 0 && setup.devices[slot]) devicesByPeer[c.peerIndex] = setup.devices[slot]; }
      const { peers: energy, complete } = roundEnergy(devicesByPeer, energyInputs,
        await Promise.all(onSidelink.map(async (c) => ({ head: c.head, members: c.members.filter((p) => !c.leftOut.includes(p)), aggregateBytes: c.aggregateCid ? await sizeOf(c.aggregateCid) : 0 }))));
      rounds.push({
        round: r, committed: commits.map((c) => c.peerIndex).sort((a, b) => a - b), clusters,
        strayHeads: [...records.keys()].filter((h) => !heads.has(h)),
        lone: commits.map((c) => c.peerIndex).filter((p) => !sidelinkPeers.has(p)).sort((a, b) => a - b),
        checkSeed, energy, energyComplete: complete,
      });
    }
    return { address: this.address, config: { ...config, scenarioCid: config.scenarioCid.toString() }, scenarioName: setup.scenario.name, rounds };
  }
}
