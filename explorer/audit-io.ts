/** The real IO of the audit: contract views over JSON-RPC and IPFS content. The round steps come from node/protocol. */
import { Contract, type Interface, type Provider } from "ethers";
import { decodeTaskConfig, roundRulesOf, type RawTaskConfig } from "../node/protocol/index.ts";
import { protocolRules, type AuditChain, type AuditIO, type AuditRules, type AuditVerdict } from "./audit.ts";
import { cidToString } from "./cid.ts";

/** The verdict and aggregate exactly as node/roles/verifier.ts and aggregator.ts compute them. */
export const agentRules: AuditRules = protocolRules;

/** Contract views -> AuditChain. Verdicts are read for every registered peer (getVerdict). */
export function contractAuditChain(address: string, iface: Interface, provider: Provider): AuditChain {
  const task = new Contract(address, iface, provider);
  return {
    async taskConfig() {
      const c = decodeTaskConfig((await task.taskConfig()) as RawTaskConfig);
      return { modelSpecCid: c.modelSpecCid?.toString() ?? "", rules: roundRulesOf(c), ruleParamRaw: c.ruleParamRaw };
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
        if (v.revealed) out.push({ verifier: peer, acceptedMask: BigInt(v.acceptedMask) });
      }
      return out;
    },
  };
}

export function auditIO(chain: AuditChain, fetch: (cid: string) => Promise<Uint8Array>, rules: AuditRules = protocolRules): AuditIO {
  return { chain, fetch, rules };
}
