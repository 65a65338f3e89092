/**
 * `peerfl task init` and `peerfl task start`: what the task creator does by hand (the demo does
 * both itself). `init` builds the model spec and seeded initial weights, adds them to an IPFS node
 * (a Kubo RPC API such as `peerfl ipfs daemon`), and writes the Ignition parameters file;
 * `start` opens round 1 once the peers have registered.
 */
import { writeFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { intArg } from "./lib/cli-args.ts";
import { cidToHex } from "./chain/cid.ts";
import { connectTask, readKeyFile } from "./chain/connect.ts";
import { readTaskConfig } from "./chain/task.ts";
import { DEFAULT_PRIVATE_RULE, DEFAULT_RULE, parseRuleName, ruleIdOf } from "./protocol/index.ts";

const int = (name: string, min: number) => intArg(name, min);

function program(): Command {
  const root = new Command("peerfl task").exitOverride().configureOutput({ writeErr: () => {} })
    .description("create and start a federated-learning task by hand");
  root.command("init")
    .description("add the model spec + initial weights to IPFS and write Ignition parameters")
    .addOption(new Option("--model <name>", "model").choices(["mlp", "cnn"]).default("mlp"))
    .option("--seed <n>", "seed of the initial weights", int("--seed", 0), 7)
    .option("--ipfs-api <url>", "Kubo RPC API of the creator's IPFS node (e.g. peerfl ipfs daemon)", "http://127.0.0.1:5001")
    .option("--rounds <n>", "rounds", int("--rounds", 1), 5)
    .option("--rule <name>", `robust rule: fedavg, krum, multi-krum, median, trimmed-mean, centered-clipping, flame, validation-vote, root-validation (default ${DEFAULT_RULE}; root-validation keeps more honest non-IID peers, but a task with secure aggregation should keep ${DEFAULT_PRIVATE_RULE}: its verifiers cannot see individual updates, so root-validation would run only its pre-filter; docs/robustness.md)`)
    .option("--dataset <name>", "root-validation: dataset whose training split the public root set is drawn from", "mnist")
    .option("--root-per-class <n>", "root-validation: root-set samples per class", int("--root-per-class", 1), 50)
    .option("--peers <n>", "root-validation: the task's peers, to draw the root set from samples no peer holds", int("--peers", 1), 10)
    .option("--partition <scheme>", "root-validation: the peers' partition (as their --partition)", "iid")
    .option("--max-samples <n>", "root-validation: the peers' shard cap (as their --max-samples)", int("--max-samples", 1))
    .option("--rule-param <x>", "rule parameter in natural units (Krum f, trim count, clipping radius; 0 = auto)", (v: string) => Number(v), 0)
    .option("--out <file>", "Ignition parameters file to write", "task-parameters.json")
    .exitOverride();
  const initiatorOptions = (c: Command) => c
    .option("--rpc <url>", "chain RPC URL", "http://127.0.0.1:8545")
    .option("--contract <address>", "FederatedTask address (default: Ignition's deployment)")
    .option("--key-file <file>", "initiator's private key in a file (mode 0600); or set PEERFL_PRIVATE_KEY")
    .option("--account <n>", "initiator's Hardhat development account (chain 31337 only)", int("--account", 0), 0)
    .exitOverride();
  initiatorOptions(root.command("admit").description("admit peer addresses to an allow-list task (initiator only)")
    .requiredOption("--address <address...>", "peer wallet addresses to admit"));
  initiatorOptions(root.command("start").description("start round 1 (initiator only)"));
  return root;
}

export async function main(argv: string[]): Promise<number> {
  const root = program();
  let action: { name: string; opts: Record<string, unknown> } | undefined;
  for (const c of root.commands) c.action((opts: Record<string, unknown>) => { action = { name: c.name(), opts }; });
  try {
    await root.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.help" || err.code === "commander.version") return 0;
      process.stderr.write(`peerfl task: ${err.message.replace(/^error: /, "")}\n(run "peerfl task --help")\n`);
      return 2;
    }
    throw err;
  }
  if (!action) { process.stdout.write(root.helpInformation()); return 2; }
  const o = action.opts;
  if (action.name === "init") {
    let rule: number;
    if (o.rule === undefined) process.stdout.write(`rule            ${DEFAULT_RULE} (the default; --rule to change, e.g. --rule root-validation to keep more honest non-IID peers)\n`);
    try { rule = ruleIdOf(parseRuleName(String(o.rule ?? DEFAULT_RULE))); } catch (err) { process.stderr.write(`peerfl task: ${(err as Error).message}\n`); return 2; }
    const { createKuboStore } = await import("../ipfs/kubo-store.ts");
    const { initBackend } = await import("./ml/backend.ts");
    const { modelSpecFor, createModel } = await import("./ml/models.ts");
    const { getWeights } = await import("./ml/train.ts");
    const { encodeModelSpec, encodeWeights } = await import("./ml/codec.ts");
    const store = await createKuboStore({ apiUrl: String(o.ipfsApi) });
    await initBackend("auto");
    const spec = modelSpecFor(o.model as "mlp" | "cnn");
    if (rule === ruleIdOf("root-validation")) {
      // The public root set (node/ml/root-set.ts): class-balanced, preferring samples no peer's shard holds.
      const { buildRootSet } = await import("./ml/root-set.ts");
      const { parsePartition } = await import("./agent/config.ts");
      let root: ReturnType<typeof buildRootSet>;
      try {
        root = buildRootSet(String(o.dataset), { peers: Number(o.peers), partition: parsePartition(String(o.partition)), partitionSeed: 42, maxSamples: o.maxSamples as number | undefined, perClass: Number(o.rootPerClass), seed: Number(o.seed), allowHeld: true });
      } catch (err) { process.stderr.write(`peerfl task: ${(err as Error).message}\n`); await store.stop(); return 2; }
      spec.rootSet = (await store.put(root.bytes, { pin: true })).toString();
      process.stdout.write(`root set        ${spec.rootSet} (${root.count} samples, ${root.held} also in peers' shards)\n`);
    }
    const specCid = await store.put(encodeModelSpec(spec), { pin: true });
    const initialCid = await store.put(encodeWeights(getWeights(createModel(spec, Number(o.seed)))), { pin: true });
    const params = { FederatedTaskModule: {
      modelSpecCid: cidToHex(specCid), initialModelCid: cidToHex(initialCid), rounds: Number(o.rounds), robustRule: rule, ruleParam: Number(o.ruleParam),
    } };
    writeFileSync(String(o.out), JSON.stringify(params, null, 2) + "\n");
    const addrs = await store.multiaddrs();
    process.stdout.write(`model spec      ${specCid}\ninitial weights ${initialCid}\nwrote ${o.out}\nagents should dial: ${addrs.join(" ") || "(see the daemon's id)"}\n`);
    await store.stop();
    return 0;
  }
  const keyFile = o.keyFile as string | undefined;
  const privateKey = keyFile ? readKeyFile(keyFile) : process.env.PEERFL_PRIVATE_KEY || undefined;
  const conn = await connectTask({
    rpcUrl: String(o.rpc), contract: o.contract as string | undefined, accountIndex: Number(o.account),
    privateKey, keySource: keyFile ? "key-file" : privateKey ? "env" : undefined,
  });
  if (action.name === "admit") {
    const addresses = (o.address as string[]).map((a) => a.trim());
    const receipt = await (await conn.task.admit(addresses)).wait();
    process.stdout.write(`admitted ${addresses.length} address${addresses.length === 1 ? "" : "es"} (tx ${receipt?.hash})\n`);
    return 0;
  }
  const peers = Number(await conn.task.peerCount());
  const cfg = await readTaskConfig(conn.task);
  const receipt = await (await conn.task.startTask()).wait();
  process.stdout.write(`task started with ${peers} registered peers, ${cfg.rounds} rounds (tx ${receipt?.hash})\n`);
  return 0;
}
