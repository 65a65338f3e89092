/**
 * A real chain + real IPFS fixture for the explorer tests: `hardhat node` in its own process group,
 * FederatedTask deployed from its artifact (allow-list admission), and two rounds of the
 * commit–reveal protocol (docs/protocol.md) driven by hand with real content on an embedded IPFS node.
 *
 * Peers: three admitted peers with every role (the committees are the whole pools: size 0), a
 * fourth admitted peer whose aggregator role is revoked and that the initiator then bans, and a
 * fifth address that is admitted but never registers.
 *   round 1 — honest: the initiator draws the committees (selectCommittees); all three verifiers
 *             commit "accept all", peer 2 never reveals (the reveal window runs out, penalty); two
 *             aggregators commit and reveal the honest aggregate, the third never commits (the
 *             commit window runs out) -> finalized, audit passes;
 *   round 2 — corrupted: committees drawn lazily by the first verdict commit; a lying verifier
 *             majority (peers 0, 1) rejects commit 0, peer 2 accepts all; the colluding aggregators
 *             (peers 0, 1) reveal the mean of ALL updates, peer 2 the honest aggregate -> the
 *             wrong CID reaches the quorum, audit must report both differences. Peer 2 challenges
 *             the round, the initiator upholds it: peers 0 and 1 lose reputation and are banned.
 * Plus one mined, reverted transaction (an aggregate commit for round 1 after it closed) for the
 * decoded-revert view.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {
  ContractFactory, HDNodeWallet, JsonRpcProvider, Mnemonic, Contract, Transaction, keccak256, zeroPadValue, toBeHex, toUtf8Bytes,
  type ContractTransactionResponse, type TransactionReceipt,
} from "ethers";
import { createEmbeddedStore, type EmbeddedStore } from "../../ipfs/embedded-store.ts";
import { encodeModelSpec, encodeWeights, flattenWeights, unflattenWeights } from "../../node/ml/codec.ts";
import type { ModelSpec, ModelWeights } from "../../node/ml/types.ts";
import { CID } from "multiformats/cid";
import { aggregateAccepted, ruleNameOf } from "../../node/protocol/index.ts";
import { federatedTaskArtifact, REPO_ROOT } from "../../explorer/abi.ts";
import { cidToBytes } from "../../explorer/cid.ts";

export const SPEC: ModelSpec = {
  model: "mlp",
  inputShape: [4],
  numClasses: 3,
  tensors: [
    { name: "dense/kernel", shape: [4, 3] },
    { name: "dense/bias", shape: [3] },
  ],
};

export const RULE_ID = 2; // Multi-Krum
export const RULE_PARAM = 1;
const MNEMONIC = "test test test test test test test test test test test junk";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Chain {
  rpcUrl: string;
  provider: JsonRpcProvider;
  stop(): Promise<void>;
}

/** `npx hardhat node` on a free loopback port, in its own process group (stopped by group). */
export async function startHardhatNode(): Promise<Chain> {
  const port = await freePort();
  const rpcUrl = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("npx", ["hardhat", "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true", HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
  });
  let output = "";
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once("exit", () => { exited = true; resolve(); }));
  child.stdout?.on("data", (d) => (output += d.toString()));
  child.stderr?.on("data", (d) => (output += d.toString()));
  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5000);
    await exitedPromise;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) throw new Error(`hardhat node exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`hardhat node did not answer on ${rpcUrl} within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, staticNetwork: true });
  return {
    rpcUrl,
    provider,
    async stop() {
      provider.destroy();
      await stop();
    },
  };
}

function wallet(index: number, provider: JsonRpcProvider): HDNodeWallet {
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(MNEMONIC), `m/44'/60'/0'/0/${index}`).connect(provider);
}

/** Small deterministic weights: global + scale * pattern(seed). */
export function makeWeights(seed: number, base?: Float32Array, scale = 1): ModelWeights {
  const flat = new Float32Array(15);
  for (let i = 0; i < flat.length; i++) {
    const pattern = Math.sin(seed * 12.9898 + i * 78.233) * 0.5;
    flat[i] = (base ? base[i] : 0) + scale * pattern;
  }
  return unflattenWeights(flat, SPEC);
}

export interface RoundRecord {
  round: number;
  commitCids: string[];
  numSamples: number[];
  finalCid: string;
  honestCid: string;
  /** The mask each of peers 0..2 committed to (and revealed, unless it is the non-revealer). */
  masks: bigint[];
  /** Peer index (into `peers`) that committed a verdict but never revealed it, or null. */
  nonRevealer: number | null;
  /** Peer indexes that committed and revealed an aggregate, with the CID each revealed. */
  aggregateReveals: { peer: number; cid: string; accuracyBps: number }[];
  /** Peer indexes that committed an aggregate. */
  aggregateCommitters: number[];
  /** Block of CommitteeSeedFixed (training closed). */
  seedBlock: number;
  /** Whether the initiator called selectCommittees (else the first verdict commit drew them). */
  selectedExplicitly: boolean;
  txs: {
    commit: string[];
    verdictCommit: string[];
    verdictReveal: string[];
    aggregateCommit: string[];
    aggregateReveal: string[];
    advance: string[];
    select: string | null;
  };
}

export interface ChallengeRecord {
  id: number;
  round: number;
  /** Peer index (into `peers`) that raised it. */
  challenger: number;
  upheld: boolean;
  /** Peer indexes banned by the settlement (the aggregators that revealed the final CID). */
  slashedPeers: number[];
  raiseTx: string;
  settleTx: string;
}

export interface Fixture {
  chain: Chain;
  store: EmbeddedStore;
  contractAddress: string;
  deployer: HDNodeWallet;
  /** Peers 0..2: every role, active in both rounds. */
  peers: HDNodeWallet[];
  /** Registered (roles verifier + aggregator), aggregator role revoked, then banned by the initiator. */
  outcast: HDNodeWallet;
  /** Admitted but never registered. */
  admittedOnly: string;
  specCid: string;
  initialCid: string;
  rounds: RoundRecord[];
  challenge: ChallengeRecord;
  failedTxHash: string;
  peerMultiaddr: string;
  stop(): Promise<void>;
}

async function mined(tx: Promise<ContractTransactionResponse>): Promise<TransactionReceipt> {
  const receipt = await (await tx).wait();
  if (!receipt || receipt.status !== 1) throw new Error("transaction failed");
  return receipt;
}

const salt = (label: string): string => keccak256(toUtf8Bytes(`peerfl explorer fixture ${label}`));

export const TASK_CONFIG = {
  rounds: 2,
  trainingDuration: 3600,
  verificationDuration: 3600,
  aggregationDuration: 3600,
  revealDuration: 600,
  challengeDuration: 3600,
  minTrainers: 3,
  verifierCommitteeSize: 0,
  aggregatorCommitteeSize: 0,
  aggregatorQuorumBps: 6000, // 2 of the 3 aggregators
  robustRule: RULE_ID,
  ruleParam: RULE_PARAM,
  admissionMode: 0,
  bondWei: 0,
  maxSamplesPerPeer: 60000,
  copyCosineThresholdBps: 9990,
  sampleWeightClipMilli: 3000,
  dpClipNormMilli: 0,
  dpNoiseMultiplierMilli: 0,
  dpDeltaExponent: 5,
  dpEpsilonBudgetMilli: 0,
  reputationInitial: 10,
  reputationReward: 1,
  reputationPenalty: 3,
  reputationThreshold: 0,
  reputationMax: 100,
} as const;

/** Deploy, configure, admit and register the peers, run the honest and the corrupted round, challenge the latter. */
export async function createFixture(): Promise<Fixture> {
  const artifact = federatedTaskArtifact();
  if (!artifact) throw new Error("artifacts/contracts/FederatedTask.sol/FederatedTask.json is missing: run `npx hardhat compile` first");
  const chain = await startHardhatNode();
  const repoDir = await mkdtemp(path.join(os.tmpdir(), "peerfl-explorer-test-peers-"));
  let store: EmbeddedStore | null = null;
  try {
    store = await createEmbeddedStore({ repoDir, listenPort: 0 });
    const peerMultiaddr = (await store.multiaddrs())[0];
    const deployer = wallet(0, chain.provider);
    const peers = [1, 2, 3].map((i) => wallet(i, chain.provider));
    const outcast = wallet(4, chain.provider);
    const admittedOnly = wallet(5, chain.provider).address;

    const factory = new ContractFactory(artifact.abi, artifact.bytecode, deployer);
    const deployed = await factory.deploy(deployer.address);
    await deployed.waitForDeployment();
    const contractAddress = await deployed.getAddress();
    const asPeer = (i: number) => new Contract(contractAddress, artifact.abi, peers[i]);
    const task = new Contract(contractAddress, artifact.abi, deployer);
    const timeTravel = async (seconds: number) => {
      await chain.provider.send("evm_increaseTime", [seconds]);
      await chain.provider.send("evm_mine", []);
    };

    const specCid = await store.put(encodeModelSpec(SPEC));
    const initial = makeWeights(1);
    const initialCid = await store.put(encodeWeights(initial));
    await mined(task.configureTask({ modelSpecCid: cidToBytes(specCid), initialModelCid: cidToBytes(initialCid), ...TASK_CONFIG }));
    await mined(task.admit([...peers.map((p) => p.address), outcast.address, admittedOnly]));
    for (let i = 0; i < 3; i++) {
      await mined(asPeer(i).registerPeer(7, peerMultiaddr, zeroPadValue(toBeHex(i + 1), 32)));
    }
    await mined((task.connect(outcast) as Contract).registerPeer(6, peerMultiaddr, zeroPadValue(toBeHex(4), 32)));
    await mined(task.revokeRoles(outcast.address, 4));
    await mined(task.banPeer(outcast.address));
    await mined(task.startTask());

    const setting = {
      rule: ruleNameOf(RULE_ID), ruleParam: RULE_PARAM,
      copyCosineThreshold: TASK_CONFIG.copyCosineThresholdBps / 10000, sampleWeightClip: TASK_CONFIG.sampleWeightClipMilli / 1000,
    };
    const rounds: RoundRecord[] = [];
    let global = flattenWeights(initial);
    let previousGlobal: Float32Array | null = null;
    for (const round of [1, 2]) {
      const corrupted = round === 2;
      const numSamples = [100, 200, 300];
      const updates = [0, 1, 2].map((i) => flattenWeights(makeWeights(10 * round + i, global, 0.02 * (i + 1))));
      const commitCids: string[] = [];
      const txs: RoundRecord["txs"] = { commit: [], verdictCommit: [], verdictReveal: [], aggregateCommit: [], aggregateReveal: [], advance: [], select: null };
      let seedBlock = 0;
      for (let i = 0; i < 3; i++) {
        const cid = await store.put(encodeWeights(unflattenWeights(updates[i], SPEC)));
        commitCids.push(cid);
        const receipt = await mined(asPeer(i).commitUpdate(round, cidToBytes(cid), numSamples[i]));
        txs.commit.push(receipt.hash);
        seedBlock = receipt.blockNumber; // the last commit closes training and fixes the seed block
      }
      // Honest verifiers accept all three (Multi-Krum with f lowered to 0 for n = 3); in round 2
      // two lying verifiers reject commit 0 and carry the majority.
      if (!corrupted) txs.select = (await mined(task.selectCommittees(round))).hash;
      const masks = corrupted ? [0b110n, 0b110n, 0b111n] : [0b111n, 0b111n, 0b111n];
      for (let i = 0; i < 3; i++) {
        const commitment = await task.verdictCommitment(round, peers[i].address, masks[i], salt(`verdict ${round} ${i}`));
        txs.verdictCommit.push((await mined(asPeer(i).commitVerdict(round, commitment))).hash);
      }
      const nonRevealer = corrupted ? null : 2;
      for (let i = 0; i < 3; i++) {
        if (i === nonRevealer) continue;
        txs.verdictReveal.push((await mined(asPeer(i).revealVerdict(round, masks[i], salt(`verdict ${round} ${i}`)))).hash);
      }
      if (nonRevealer !== null) {
        // The reveal window runs out; anyone closes verification.
        await timeTravel(TASK_CONFIG.revealDuration + 1);
        txs.advance.push((await mined(task.advancePhase(round))).hash);
      }
      const acceptedOnChain = corrupted ? [1, 2] : [0, 1, 2];
      // The aggregate exactly as the agents and the audit compute it (node/protocol).
      const aggregateOf = (indices: number[]) => aggregateAccepted(
        setting, { global, previousGlobal },
        indices.map((i) => ({ cid: CID.parse(commitCids[i]), numSamples: numSamples[i], weights: updates[i] })),
      );
      const honest = aggregateOf(acceptedOnChain);
      const honestCid = await store.put(encodeWeights(unflattenWeights(honest, SPEC)));
      let finalFlat = honest;
      let finalCid = honestCid;
      if (corrupted) {
        // The colluding aggregators average ALL updates, ignoring the accepted mask.
        finalFlat = aggregateOf([0, 1, 2]);
        finalCid = await store.put(encodeWeights(unflattenWeights(finalFlat, SPEC)));
      }
      // Round 1: aggregators 0 and 1 (honest); 2 never commits. Round 2: 0 and 1 collude, 2 is honest.
      const aggregateReveals = (corrupted ? [0, 1, 2] : [0, 1]).map((peer) => ({
        peer,
        cid: corrupted && peer === 2 ? honestCid : finalCid,
        accuracyBps: 9000 + 100 * round + peer,
      }));
      for (const a of aggregateReveals) {
        const commitment = await task.aggregateCommitment(round, peers[a.peer].address, cidToBytes(a.cid), a.accuracyBps, 0, salt(`aggregate ${round} ${a.peer}`));
        txs.aggregateCommit.push((await mined(asPeer(a.peer).commitAggregate(round, commitment))).hash);
      }
      if (!corrupted) {
        await timeTravel(TASK_CONFIG.aggregationDuration + 1);
        txs.advance.push((await mined(task.advancePhase(round))).hash);
      }
      for (const a of aggregateReveals) {
        txs.aggregateReveal.push((await mined(asPeer(a.peer).revealAggregate(round, cidToBytes(a.cid), a.accuracyBps, 0, salt(`aggregate ${round} ${a.peer}`)))).hash);
      }
      const state = await task.getRound(round);
      if (Number(state.phase) !== 6) throw new Error(`fixture: round ${round} did not finalize (phase ${state.phase})`);
      rounds.push({
        round, commitCids, numSamples, finalCid, honestCid, masks, nonRevealer, aggregateReveals,
        aggregateCommitters: aggregateReveals.map((a) => a.peer), seedBlock, selectedExplicitly: !corrupted, txs,
      });
      previousGlobal = global;
      global = finalFlat;
    }

    // Peer 2 challenges the corrupted round; the initiator recomputes it off-chain and upholds.
    const raiseTx = (await mined(asPeer(2).challenge(2))).hash;
    const settleTx = (await mined(task.settleChallenge(0, true))).hash;
    const challenge: ChallengeRecord = { id: 0, round: 2, challenger: 2, upheld: true, slashedPeers: [0, 1], raiseTx, settleTx };

    // A transaction that is mined and reverts: the third aggregator commits for round 1 after it closed.
    const late = asPeer(2);
    const data = late.interface.encodeFunctionData("commitAggregate", [1, salt("late")]);
    const nonce = await chain.provider.getTransactionCount(peers[2].address, "pending");
    const fee = await chain.provider.getFeeData();
    const signed = await peers[2].signTransaction(
      Transaction.from({
        to: contractAddress,
        data,
        nonce,
        gasLimit: 300_000n,
        chainId: (await chain.provider.getNetwork()).chainId,
        maxFeePerGas: fee.maxFeePerGas ?? 2_000_000_000n,
        maxPriorityFeePerGas: fee.maxPriorityFeePerGas ?? 1_000_000n,
        type: 2,
      }),
    );
    const failedTxHash = keccak256(signed);
    await chain.provider.send("eth_sendRawTransaction", [signed]).catch(() => undefined);
    const receipt = await chain.provider.getTransactionReceipt(failedTxHash);
    if (!receipt || receipt.status !== 0) throw new Error(`expected a mined, reverted tx ${failedTxHash}, got ${receipt ? `status ${receipt.status}` : "no receipt"}`);

    const s = store;
    return {
      chain,
      store: s,
      contractAddress,
      deployer,
      peers,
      outcast,
      admittedOnly,
      specCid,
      initialCid,
      rounds,
      challenge,
      failedTxHash,
      peerMultiaddr,
      async stop() {
        await s.stop().catch(() => undefined);
        await chain.stop();
        await rm(repoDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await store?.stop().catch(() => undefined);
    await chain.stop();
    await rm(repoDir, { recursive: true, force: true });
    throw error;
  }
}
