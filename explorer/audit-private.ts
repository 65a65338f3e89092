/**
 * The audit of a PRIVATE round (secure aggregation, docs/secure-aggregation.md): from the chain
 * (task + SecureAggregation side contract) and IPFS alone, and without ever seeing an individual
 * update, it
 *   1. reads every setup bundle and checks it against the ring, the threshold and the ephemeral key on chain;
 *   2. decodes every masked update (canonical codec, bound to task, round and committer);
 *   3. checks every revealed share against the hash commitment its owner published at setup, and
 *      refuses shares of the wrong kind (an ephemeral-key share of a peer that committed);
 *   4. reconstructs the self-mask seeds of the committed peers and the ephemeral keys of the dropped
 *      ones, removes every mask, and recomputes the global model = global + sum / Σ numSamples;
 *   5. compares the set in the sum with the on-chain accepted mask and the recomputed CID with the
 *      on-chain final CID, bit for bit.
 * The same node/secagg/transcript.ts code the agents' verifiers and aggregators run.
 */
import { Contract, type Interface, type Provider } from "ethers";
import { CID } from "multiformats/cid";
import { decodeModelSpec, parameterCount } from "../node/ml/codec.ts";
import { decodeUpdate, encodeUpdate, maskHex, parseCid, Phase, phaseName, updateCid } from "../node/protocol/index.ts";
import { secAggReader, type SecAggReader } from "../node/secagg/chain.ts";
import { UnmaskError } from "../node/secagg/errors.ts";
import { collectTranscript, privateAggregate, unmaskTranscript, type TranscriptSource } from "../node/secagg/transcript.ts";
import type { AuditIO, AuditResult } from "./audit.ts";

export interface PrivateAuditIO {
  reader: SecAggReader;
  /** Registered peers with their long-term public keys (the audit needs their addresses and indices). */
  peers(): Promise<{ peerIndex: number; address: string; publicKey: string }[]>;
}

export interface PrivateAuditResult extends AuditResult {
  private: {
    secagg: string;
    setups: number;
    reveals: number;
    inSum: number[];
    secrets: { owner: number; secret: string; validShares: number; threshold: number; usedFrom: number[] }[];
    refusedShares: { revealer: number; owner: number; reason: string }[];
    totalSamples: number | null;
  };
}

/** SecureAggregation reader + the task's registry, over any provider. */
export function contractPrivateAudit(secaggAddress: string, taskAddress: string, taskIface: Interface, provider: Provider): PrivateAuditIO {
  const task = new Contract(taskAddress, taskIface, provider);
  return {
    reader: secAggReader(secaggAddress, provider),
    async peers() {
      const n = Number(await task.peerCount());
      return Promise.all(Array.from({ length: n }, async (_, i) => {
        const address = String(await task.peerAt(i));
        const p = await task.getPeer(address);
        return { peerIndex: Number(p.peerIndex), address, publicKey: String(p.publicKey) };
      }));
    },
  };
}

const text = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function auditPrivateRound(round: number, io: AuditIO, p: PrivateAuditIO): Promise<PrivateAuditResult> {
  const differences: string[] = [];
  const state = await io.chain.round(round);
  const config = await p.reader.config();
  const taskAddress = await p.reader.taskAddress();
  const result: PrivateAuditResult = {
    round, ok: false, rule: "secure aggregation (private mode: candidate-aggregate vote)",
    acceptedMaskOnChain: maskHex(state.acceptedMask), acceptedMaskRecomputed: null,
    globalCidOnChain: state.finalCid, globalCidRecomputed: null, commits: [], verifiers: [], differences,
    private: { secagg: p.reader.address, setups: 0, reveals: 0, inSum: [], secrets: [], refusedShares: [], totalSamples: null },
  };
  if (!config) { differences.push(`the SecureAggregation contract ${p.reader.address} is not configured`); return result; }
  if (state.phase !== Phase.Finalized) {
    differences.push(`round ${round} is not finalized (phase ${phaseName(state.phase)}): there is no final CID to reproduce`);
    return result;
  }
  const taskConfig = await io.chain.taskConfig();
  let spec;
  let global: Float32Array;
  try {
    spec = decodeModelSpec(await io.fetch(taskConfig.modelSpecCid));
    global = decodeUpdate(await io.fetch(state.globalModelCid), spec);
  } catch (err) {
    differences.push(`model spec or round ${round}'s starting global model unavailable or invalid: ${text(err)}`);
    return result;
  }
  const src: TranscriptSource = {
    task: taskAddress, config, paramCount: parameterCount(spec), secagg: p.reader,
    async commits(r) {
      const out = [];
      for (let i = 0; i < state.commitCount; i++) {
        const c = await io.chain.commit(r, i);
        out.push({ index: c.index, trainer: c.trainer, cid: parseCid(c.cid), numSamples: c.numSamples });
      }
      return out;
    },
    peers: () => p.peers(),
    async fetch(cid: CID, maxBytes: number) {
      const bytes = await io.fetch(cid.toString());
      if (bytes.length > maxBytes) throw new Error(`${cid} is ${bytes.length} bytes, more than the limit ${maxBytes}`);
      return bytes;
    },
  };
  const transcript = await collectTranscript(src, round);
  result.private.setups = transcript.posted.length;
  result.private.reveals = transcript.reveals.length;
  result.private.inSum = transcript.commits.filter((c) => c.inSum).map((c) => c.commitIndex);
  result.acceptedMaskRecomputed = maskHex(transcript.sumMask);
  result.commits = transcript.commits.map((c) => ({
    index: c.commitIndex, trainer: c.trainer, cid: c.cid, numSamples: c.numSamples, problem: c.problem,
    acceptedOnChain: ((state.acceptedMask >> BigInt(c.commitIndex)) & 1n) === 1n, acceptedRecomputed: c.inSum,
  }));
  for (const s of transcript.posted) if (s.problem) differences.push(`setup of peer ${s.index}: ${s.problem}`);
  for (const r of transcript.revealProblems) result.private.refusedShares.push({ revealer: r.posterIndex, owner: -1, reason: r.problem });
  if (transcript.sumMask !== state.acceptedMask) {
    differences.push(`accepted mask on chain ${maskHex(state.acceptedMask)} is not the set in the masked sum ${maskHex(transcript.sumMask)} (a candidate-aggregate vote accepts all or nothing)`);
  }
  try {
    const unmasked = unmaskTranscript(transcript, config);
    result.private.totalSamples = unmasked.totalSamples;
    result.private.secrets = unmasked.shares.map((s) => ({ owner: s.ownerIndex, secret: s.secret, validShares: s.valid, threshold: s.threshold, usedFrom: s.usedFrom }));
    result.private.refusedShares.push(...unmasked.refused.map((r) => ({ revealer: r.revealer, owner: r.ownerIndex, reason: r.reason })));
    const aggregate = privateAggregate(global, unmasked, config);
    const version = parseCid(state.finalCid).version === 0 ? 0 : 1;
    result.globalCidRecomputed = (await updateCid(encodeUpdate(aggregate, spec), version)).toString();
    if (result.globalCidRecomputed !== state.finalCid) differences.push(`final global model: on chain ${state.finalCid}, recomputed from the unmasked sum ${result.globalCidRecomputed}`);
  } catch (err) {
    differences.push(err instanceof UnmaskError ? err.message : `unmasking failed: ${text(err)}`);
  }
  result.ok = differences.length === 0;
  return result;
}
