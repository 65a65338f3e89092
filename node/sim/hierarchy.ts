/**
 * Hierarchical (D2D-clustered) federated rounds in one process, next to the flat protocol, with the
 * bytes each link carries and each peer's energy. It reuses the protocol code the agents run: the
 * agents' Learner, protocol/local-update.ts, the update codecs (compressed formats included, through
 * protocol/model-bytes.ts decodeUpdate), protocol/verdict.ts for every robust step.
 *
 * flat       every participating peer sends its update over Uu (as the agents do today); the
 *            task's robust rule judges and aggregates all of them.
 * clustered  clusters come from the radio model (node/links/clusters.ts, seeded per round). Members
 *            send their updates over the sidelink to their head (direct, or two hops through a relay
 *            UE); the head judges them with the task's rule (roundVerdict) and aggregates the
 *            accepted ones (aggregateAccepted), compresses that cluster aggregate in the task's format
 *            and sends it over Uu. The global step runs the task's rule as a verdict over the cluster
 *            aggregates and the unclustered peers' own updates, then averages the accepted inputs
 *            weighted by their accepted samples (FedAvg). The per-commit near-copy check and the
 *            sample-weight clip act inside clusters (per peer), not on aggregates, whose sample counts
 *            are sums of capped per-peer counts.
 *
 * Devices (node/devices): a peer whose battery is low and not charging, or too hot, skips the round.
 * What is modeled, not measured: round time = slowest participant's training on its tier + the
 * sidelink phase (each head receives its members' bytes one after another; clusters in parallel) +
 * the Uu phase (the cell's uplink carries the senders one after another, each at its own uplink
 * rate). Only uplink/sidelink transmit energy is booked (reception, the global model's download and
 * idle radio time are the same in both modes and left out).
 */
import { createLogger } from "../lib/log.ts";
import { initBackend, type BackendPreference } from "../ml/backend.ts";
import { loadDataset, selectSamples, type Dataset } from "../ml/datasets.ts";
import { createLearner, learnerSeed, type Learner } from "../ml/learner.ts";
import { createModel, initialWeights, modelSpecFor } from "../ml/models.ts";
import type { PartitionScheme } from "../ml/partition.ts";
import { deriveSeed, mulberry32, permutation } from "../ml/random.ts";
import { evaluate, setWeights, type OptimizerName } from "../ml/train.ts";
import { flattenWeights, unflattenWeights } from "../ml/codec.ts";
import type { ModelSpec } from "../ml/types.ts";
import { honestUpdate } from "../protocol/local-update.ts";
import { decodeUpdate, encodeUpdate, updateCid, type UpdateBase } from "../protocol/model-bytes.ts";
import { aggregateAccepted, roundVerdict, type RoundUpdate, type RuleSetting } from "../protocol/verdict.ts";
import type { RuleName } from "../protocol/ids.ts";
import { compressUpdate } from "../compression/codec.ts";
import { roundingSeed } from "../compression/rounding.ts";
import { parseCompressionSpec, type CompressionFormat } from "../compression/spec.ts";
import { DeviceSession, type DeviceConfig, type RoundEnergy } from "../devices/session.ts";
import { formClusters, type Clustering } from "../links/clusters.ts";
import { chainRoute, relayAccessParams, uplinkHop } from "../links/modes.ts";
import type { Scenario } from "../links/scenario.ts";

export type HierarchyMode = "flat" | "clustered";

export interface HierarchyOptions {
  mode: HierarchyMode;
  compression: CompressionFormat;
  scenario: Scenario;
  /** device per peer (scenario `devices`); peers without one count as an always-available mid phone */
  devices: DeviceConfig[];
  dataset: "mnist" | "fashion-mnist";
  model: "mlp" | "cnn";
  rounds: number;
  partition: PartitionScheme;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  optimizer?: OptimizerName;
  rule: RuleName;
  ruleParam: number;
  seed: number;
  maxSamplesPerPeer?: number;
  testSamples?: number;
  chunkSize?: number;
  topkFraction?: number;
  /** idle time between rounds for the devices' cooling/charging, s (default 30) */
  idleSeconds?: number;
  backend?: BackendPreference;
  /**
   * Learners to reuse (one per peer, made by createHierarchyLearners with the same data settings):
   * a learner trains from the global model it is given with a fresh optimizer and a per-round seed,
   * so runs that share them are independent. They are not disposed.
   */
  learners?: Learner[];
  onRound?: (r: HierarchyRound) => void;
}

/** The peers' learners for a scenario of `numPeers` (the agents' learner, seeds as the simulator's). */
export async function createHierarchyLearners(o: Pick<HierarchyOptions, "dataset" | "model" | "partition" | "seed" | "maxSamplesPerPeer" | "localEpochs" | "batchSize" | "learningRate" | "optimizer" | "backend">, numPeers: number): Promise<Learner[]> {
  await initBackend(o.backend ?? "wasm");
  const spec = modelSpecFor(o.model);
  const learners: Learner[] = [];
  for (let p = 0; p < numPeers; p++) {
    learners.push(await createLearner({
      dataset: o.dataset, partition: o.partition, partitionSeed: o.seed, peers: numPeers, peerIndex: p, maxSamples: o.maxSamplesPerPeer,
      epochs: o.localEpochs, batchSize: o.batchSize, learningRate: o.learningRate, optimizer: o.optimizer ?? "sgd",
      backend: o.backend ?? "wasm", spec, seed: learnerSeed(p), log: silent,
    }));
  }
  return learners;
}

export interface HierarchyRound {
  round: number;
  accuracy: number;
  participants: number;
  skipped: { peer: number; reason: string }[];
  clusters: { head: number; members: number[]; accepted: number; samples: number }[];
  unclustered: number[];
  /** bytes over Uu uplinks this round */
  uplinkBytes: number;
  /** bytes over sidelinks this round (a relayed byte counts on both hops) */
  sidelinkBytes: number;
  /** bytes of one compressed peer update (mean over peers) */
  updateBytes: number;
  roundSeconds: number;
  energy: RoundEnergy[];
  globalCid: string;
}

export interface HierarchyResult {
  rounds: HierarchyRound[];
  parameters: number;
  float32UpdateBytes: number;
}

const silent = createLogger({ name: "hierarchy", level: "error", write: () => {} });
const SIM_TASK = "peerfl-sim-hierarchy";
const testCache = new Map<string, Dataset>();

/** The model spec as the task would publish it, with the run's compression format. */
export function specWithCompression(model: "mlp" | "cnn", format: CompressionFormat, chunkSize?: number, topkFraction?: number): ModelSpec {
  const spec = modelSpecFor(model);
  if (format !== "none") spec.compression = parseCompressionSpec({ format, ...(chunkSize ? { chunkSize } : {}), ...(topkFraction ? { topkFraction } : {}) });
  return spec;
}

interface Sent { peer: number; bytes: Uint8Array; update: RoundUpdate }

export async function simulateHierarchy(o: HierarchyOptions): Promise<HierarchyResult> {
  await initBackend(o.backend ?? "wasm");
  const n = o.scenario.peers.length;
  const spec = specWithCompression(o.model, o.compression, o.chunkSize, o.topkFraction);
  const setting: RuleSetting = { rule: o.rule, ruleParam: o.ruleParam, copyCosineThreshold: 0.999, sampleWeightClip: 3 };
  // The global step over cluster aggregates: the task's rule as the verdict, FedAvg by accepted samples.
  const globalVerdict: RuleSetting = { rule: o.rule, ruleParam: o.ruleParam, copyCosineThreshold: 0, sampleWeightClip: 0 };
  const globalAverage: RuleSetting = { rule: "fedavg", ruleParam: 0, copyCosineThreshold: 0, sampleWeightClip: 0 };
  let testFull = testCache.get(o.dataset);
  if (!testFull) { testFull = loadDataset(o.dataset, "test"); testCache.set(o.dataset, testFull); }
  const test = o.testSamples && o.testSamples < testFull.count
    ? selectSamples(testFull, permutation(testFull.count, mulberry32(deriveSeed(o.seed, 0x7e57))).slice(0, o.testSamples))
    : testFull;
  const devices = Array.from({ length: n }, (_, i) => new DeviceSession(o.devices[i] ?? { tier: "mid-phone", charging: true }));
  const residuals: (Float32Array | null)[] = new Array(n).fill(null);
  const ownLearners = !o.learners;
  if (o.learners && o.learners.length !== n) throw new RangeError(`${o.learners.length} learners given for ${n} peers`);
  const learners: Learner[] = o.learners ? [...o.learners] : [];
  const evalModel = createModel(spec, 0);
  const rounds: HierarchyRound[] = [];
  let clock = 0;
  try {
    if (ownLearners) learners.push(...await createHierarchyLearners(o, n));
    let global = flattenWeights(initialWeights(spec, deriveSeed(o.seed, 0x1417)));
    let globalCid = (await updateCid(encodeUpdate(global, spec))).toString();
    let previousGlobal: Float32Array | null = null;
    const float32UpdateBytes = encodeUpdate(global, spec).length;
    for (let r = 1; r <= o.rounds; r++) {
      const base: UpdateBase = { cid: globalCid, weights: global };
      const models = { global, previousGlobal };
      // 1. who trains: the device gate
      const skipped: { peer: number; reason: string }[] = [];
      const active = devices.map((d, p) => {
        const g = d.gate(clock);
        if (!g.train) skipped.push({ peer: p, reason: g.reason! });
        return g.train;
      });
      // 2. local updates, compressed in the task's format and decoded as a verifier decodes them
      const sent = new Map<number, Sent>();
      let trainSeconds = 0;
      for (let p = 0; p < n; p++) {
        if (!active[p]) continue;
        const h = await honestUpdate(global, learners[p], { round: r, peerIndex: p });
        trainSeconds = Math.max(trainSeconds, devices[p].trainingSeconds(h.samples * o.localEpochs).seconds);
        sent.set(p, await pack(h.weights, h.samples, p, r, base, spec, residuals));
      }
      // 3. routing, per mode
      const uuBytes = new Array<number>(n).fill(0);
      const slBytes = new Array<number>(n).fill(0);
      const sendUu = (p: number, bytes: number) => {
        const route = chainRoute(o.scenario, p);
        if (route.kind === "relay") { slBytes[p] += bytes; uuBytes[route.relay] += bytes; } else uuBytes[p] += bytes;
      };
      let clustering: Clustering | null = null;
      const clusterRows: HierarchyRound["clusters"] = [];
      let sidelinkSeconds = 0;
      let next: Float32Array;
      if (o.mode === "flat") {
        for (const [p, s] of sent) sendUu(p, s.bytes.length);
        const updates = [...sent.values()].map((s) => s.update);
        const verdict = roundVerdict(setting, models, updates);
        const accepted = updates.filter((_, i) => verdict.accepted[i]);
        next = accepted.length > 0 ? aggregateAccepted(setting, models, accepted) : global;
      } else {
        clustering = formClusters(o.scenario, {
          seed: `sim-round-${deriveSeed(o.seed, 0xc1, r)}`, active,
          energy: devices.map((d) => d.batteryPercent / 100),
        });
        const inputs: RoundUpdate[] = [];
        for (const cl of clustering.clusters) {
          const members = cl.members.filter((m) => sent.has(m.peer));
          let receiveSeconds = 0;
          for (const m of members) {
            if (m.via === "head") continue;
            const bytes = sent.get(m.peer)!.bytes.length;
            slBytes[m.peer] += bytes;
            if (m.via === "relay") slBytes[m.relay!] += bytes;
            receiveSeconds += (bytes * 8) / m.bandwidthBps;
          }
          sidelinkSeconds = Math.max(sidelinkSeconds, receiveSeconds);
          const updates = members.map((m) => sent.get(m.peer)!.update);
          const verdict = roundVerdict(setting, models, updates);
          const accepted = updates.filter((_, i) => verdict.accepted[i]);
          const samples = accepted.reduce((acc, u) => acc + u.numSamples, 0);
          clusterRows.push({ head: cl.head, members: members.map((m) => m.peer), accepted: accepted.length, samples });
          if (accepted.length === 0) continue;
          const clusterAggregate = aggregateAccepted(setting, models, accepted);
          // the head sends the cluster aggregate in the task's format (its own rounding seed and residual)
          const packed = await pack(clusterAggregate, samples, cl.head, r, base, spec, residuals, "cluster");
          sendUu(cl.head, packed.bytes.length);
          inputs.push(packed.update);
        }
        for (const p of clustering.unclustered) {
          const s = sent.get(p);
          if (!s) continue;
          sendUu(p, s.bytes.length);
          inputs.push(s.update);
        }
        const verdict = roundVerdict(globalVerdict, models, inputs);
        const accepted = inputs.filter((_, i) => verdict.accepted[i]);
        next = accepted.length > 0 ? aggregateAccepted(globalAverage, models, accepted) : global;
      }
      // 4. modeled time: training, sidelink phase, the cell's uplink shared by its senders
      let uuSeconds = 0;
      for (let p = 0; p < n; p++) if (uuBytes[p] > 0) uuSeconds += (uuBytes[p] * 8) / uplinkHop(o.scenario, p).bandwidthBps;
      for (let p = 0; p < n; p++) {
        const route = chainRoute(o.scenario, p);
        if (o.mode === "flat" && route.kind === "relay" && sent.has(p)) sidelinkSeconds = Math.max(sidelinkSeconds, (sent.get(p)!.bytes.length * 8) / relayAccessParams(o.scenario, p, route.relay, "up").bandwidthBps);
      }
      const roundSeconds = trainSeconds + sidelinkSeconds + uuSeconds;
      clock += roundSeconds;
      const energy = devices.flatMap((d, p) => (active[p] || uuBytes[p] > 0 || slBytes[p] > 0)
        ? [d.account(r, clock, { samplesTrained: sent.has(p) ? sent.get(p)!.update.numSamples * o.localEpochs : 0, uuBytes: uuBytes[p], sidelinkBytes: slBytes[p] })]
        : []);
      clock += o.idleSeconds ?? 30;
      previousGlobal = global;
      global = next;
      globalCid = (await updateCid(encodeUpdate(global, spec))).toString();
      setWeights(evalModel, unflattenWeights(global, spec));
      const { accuracy } = evaluate(evalModel, test);
      const row: HierarchyRound = {
        round: r, accuracy, participants: sent.size, skipped,
        clusters: clusterRows, unclustered: clustering?.unclustered ?? [...sent.keys()],
        uplinkBytes: uuBytes.reduce((a, b) => a + b, 0), sidelinkBytes: slBytes.reduce((a, b) => a + b, 0),
        updateBytes: sent.size ? [...sent.values()].reduce((a, s) => a + s.bytes.length, 0) / sent.size : 0,
        roundSeconds, energy, globalCid,
      };
      rounds.push(row);
      o.onRound?.(row);
    }
    return { rounds, parameters: global.length, float32UpdateBytes };
  } finally {
    evalModel.dispose();
    if (ownLearners) for (const l of learners) l.dispose();
  }

  /** The update's bytes in the task's format, its CID and what a verifier decodes from them. */
  async function pack(weights: Float32Array, samples: number, p: number, r: number, base: UpdateBase, spec: ModelSpec, res: (Float32Array | null)[], role = "trainer"): Promise<Sent> {
    let bytes: Uint8Array;
    if (o.compression === "none") bytes = encodeUpdate(weights, spec);
    else {
      // a head's cluster aggregates keep their own top-k residual (index n + head)
      const slot = role === "cluster" ? n + p : p;
      const c = compressUpdate(weights, {
        format: o.compression, base, spec, seed: roundingSeed(SIM_TASK, r, `${role}-${p}`),
        chunkSize: spec.compression!.chunkSize, topkFraction: spec.compression!.topkFraction, residual: res[slot] ?? null,
      });
      if (c.residual) res[slot] = c.residual;
      bytes = c.bytes;
    }
    return { peer: p, bytes, update: { cid: await updateCid(bytes), numSamples: samples, weights: decodeUpdate(bytes, spec, base) } };
  }
}
