/** The real IO of the audit: contract views over JSON-RPC, IPFS content, the agents' own rules. */
import { Contract, type Interface, type Provider } from "ethers";
import { ruleAggregate, ruleVerdict } from "../node/agent/rules.ts";
import type { AuditChain, AuditIO, AuditRules, AuditVerdict } from "./audit.ts";
import { cidToString } from "./cid.ts";
import { contentCid } from "./content-cid.ts";

/** The verdict and aggregate exactly as node/roles/verifier.ts and aggregator.ts compute them. */
export const agentRules: AuditRules = {
  verdict: (input) => ruleVerdict(input),
  aggregate: (input) => ruleAggregate(input),
};

/** Contract views -> AuditChain. Verdicts are read for every registered peer (getVerdict). */
export function contractAuditChain(address: string, iface: Interface, provider: Provider): AuditChain {
  const task = new Contract(address, iface, provider);
  return {
    async taskConfig() {
      const c = await task.taskConfig();
      return { modelSpecCid: cidToString(c.modelSpecCid), robustRule: Number(c.robustRule), ruleParam: Number(c.ruleParam) };
    },
    async round(round) {
      const r = await task.getRound(round);
      return {
        phase: Number(r.phase),
        globalModelCid: cidToString(r.globalModelCid),
        commitCount: Number(r.commitCount),
        acceptedMask: BigInt(r.acceptedMask),
        finalCid: cidToString(r.finalCid),
      };
    },
    async commit(round, index) {
      const c = await task.getCommit(round, index);
      return { index, trainer: String(c.trainer), cid: cidToString(c.cid), numSamples: Number(c.numSamples) };
    },
    async verdicts(round) {
      const count = Number(await task.peerCount());
      const out: AuditVerdict[] = [];
      for (let i = 0; i < count; i++) {
        const peer = String(await task.peerAt(i));
        const v = await task.getVerdict(round, peer);
        if (v.voted) out.push({ verifier: peer, acceptedMask: BigInt(v.acceptedMask) });
      }
      return out;
    },
  };
}

export function auditIO(chain: AuditChain, fetch: (cid: string) => Promise<Uint8Array>, rules: AuditRules = agentRules): AuditIO {
  return { chain, fetch, cidOf: contentCid, rules };
}
