/** `peerfl demo` / `npm run demo`: flags -> runDemo (node/demo/demo.ts). */
import { attackKinds } from "../attacks/index.ts";
import { parseRuleName, RULE_NAMES, UnknownNameError, type RuleName } from "../protocol/ids.ts";
import { DEFAULT_RULE } from "../protocol/task-config.ts";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { intArg, numArg } from "../lib/cli-args.ts";
import { MAX_PEERS } from "../chain/connect.ts";
import { TASK_DEFAULTS } from "../../ignition/modules/federatedTaskModule.ts";
import { runDemo, validateDemoOptions, resolveDemoOptions, DEMO_DEFAULTS, AgentDiedError, AnvilMissingError, CHAIN_KINDS, HOSTS_MODES, DemoAbortedError, type DemoHandle, type DemoOptions } from "./demo.ts";

function parseRule(value: string): RuleName {
  try { return parseRuleName(value); } catch (err) {
    if (err instanceof UnknownNameError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

const TASK_FIELDS = Object.keys(TASK_DEFAULTS);

function parseTaskParam(value: string, acc: Record<string, number>): Record<string, number> {
  const m = /^([A-Za-z]+)=(\d+)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected FIELD=INTEGER, got "${value}"`);
  if (!TASK_FIELDS.includes(m[1])) throw new InvalidArgumentError(`unknown TaskConfig field "${m[1]}"; known: ${TASK_FIELDS.join(", ")}`);
  return { ...acc, [m[1]]: Number(m[2]) };
}

export function demoCommand(): Command {
  const int = (name: string, min: number, max?: number) => intArg(name, min, max);
  const num = (name: string) => numArg(name, 0);
  const d = DEMO_DEFAULTS;
  return new Command("peerfl demo")
    .description("Run the whole system locally: chain + IPFS + N agents + R rounds, then a per-round table.")
    .option("--peers <n>", `number of peer agents (2..${MAX_PEERS}); their accounts are funded from the initiator`, int("--peers", 2, MAX_PEERS), d.peers)
    .option("--rounds <n>", "number of rounds", int("--rounds", 1), d.rounds)
    .option("--attackers <n>", "how many peers attack (the last ones)", int("--attackers", 0), d.attackers)
    .option("--late-joiners <n>", "honest peers that join only after round 1", int("--late-joiners", 0), d.lateJoiners)
    .option("--attack <kind>", `EXPERIMENTS: what the attackers do (${attackKinds.join("|")}); several attackers collude`, d.attack)
    .option("--dataset <name|dir>", "mnist, fashion-mnist or an IDX directory", d.dataset)
    .addOption(new Option("--model <name>", "model").choices(["mlp", "cnn"]).default(d.model))
    .option("--partition <scheme>", "iid | dirichlet:ALPHA | shards:K | quantity:ALPHA", d.partition)
    // No Commander default: without --rule the mode decides (resolveDemoOptions: root-validation, or centered clipping with --private).
    .option("--rule <name>", `robust rule: ${RULE_NAMES.join(", ")} (default ${DEFAULT_RULE}; --rule root-validation keeps more honest non-IID peers; docs/robustness.md)`, parseRule)
    .option("--rule-param <x>", "rule parameter in natural units (Krum f, trim count, clipping radius; 0 = auto)", num("--rule-param"), d.ruleParam)
    .option("--max-samples <n>", "cap on each peer's shard", int("--max-samples", 10))
    .option("--epochs <n>", "local epochs per round", int("--epochs", 1), d.epochs)
    .option("--training-window <s>", "training window in seconds", int("--training-window", 5), d.trainingWindow)
    .option("--dp-clip <C>", "DP clip norm (0 = DP off)", num("--dp-clip"), d.dpClip)
    .option("--dp-sigma <x>", "DP noise multiplier", num("--dp-sigma"), d.dpSigma)
    .option("--dp-budget <eps>", "DP epsilon budget (0 = none)", num("--dp-budget"), d.dpBudget)
    .addOption(new Option("--dp <unit>", "DP unit recorded in a PrivacyLedger: example = DP-SGD in every trainer (--dp-clip per-example C, default 1; --dp-sigma, default 1.1; --dp-batch; --dp-budget), peer = the task's peer-level DP (needs --dp-clip), distributed = with --private, each trainer adds its 1/peers share of Skellam noise so only the secure sum carries it in full (--dp-clip = L2 clip of numSamples × delta, default 3000; --dp-sigma z, default 1; --dp-budget)").choices(["peer", "example", "distributed"]))
    .option("--dp-batch <n>", "example-level DP: expected batch size B (q = B / shard size)", int("--dp-batch", 1, 65536))
    .addOption(new Option("--link-mode <mode>", "force a 5G link mode for every pair").choices(["auto", "direct", "relay", "infrastructure"]))
    .option("--scenario <file>", "5G link scenario JSON (its optional \"devices\" assign each agent a device tier)")
    .addOption(new Option("--compression <format>", "update compression the task sets in its model spec: none (float32), q8 / q4 (seeded stochastic quantization), topk (top-10 % with error feedback)").choices(["none", "q8", "q4", "topk"]))
    .option("--clusters", "clustered task mode (needs --scenario): D2D cluster heads judge their members' updates and record cluster aggregates in a ClusterRounds side contract; verifiers and aggregators work on cluster aggregates and lone updates (docs/d2d-clusters.md)", false)
    .option("--private", "private task mode: secure aggregation of masked updates (SecureAggregation side contract; docs/secure-aggregation.md)", false)
    .option("--task-param <field=value>", "any other TaskConfig field, repeatable (e.g. verifierCommitteeSize=3, admissionMode=1, bondWei=1000000000000000000)", parseTaskParam, {} as Record<string, number>)
    .addOption(new Option("--chain <node>", "local chain node: hardhat (Hardhat's EDR node) or anvil (Foundry's Anvil, optional npm package @foundry-rs/anvil-linux-amd64)").choices([...CHAIN_KINDS]).default("hardhat"))
    .addOption(new Option("--hosts <mode>", "loopback: every process on 127.0.0.1; netns: each agent in its own Linux network namespace with its own address on a bridge the run creates (root; 5G rates shaped with tbf; torn down at exit)").choices([...HOSTS_MODES]).default("loopback"))
    .option("--port <n>", "preferred chain RPC port", int("--port", 1024, 65535), d.port)
    .option("--keep-running", "leave chain and agents running after the last round (Ctrl-C stops)", false)
    .option("--json <file>", "where to write the JSON summary", d.json)
    .option("--no-evaluate", "skip the test-set evaluation of each global model")
    .option("--quiet", "print only the final table", false);
}

/** The demo's help text (what `peerfl demo --help` prints, once). */
export function demoHelp(): string {
  return demoCommand().helpInformation();
}

export type ParsedDemoArgs = { help: true } | { help: false; options: Partial<DemoOptions> };

/** Parses demo flags; throws CommanderError or RangeError with a message naming the flag. */
export function parseDemoArgs(argv: string[]): ParsedDemoArgs {
  // Commander prints nothing itself (help would otherwise appear twice): main writes it once.
  const cmd = demoCommand().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  try {
    cmd.parse(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError && (err.code === "commander.helpDisplayed" || err.code === "commander.help")) return { help: true };
    throw err;
  }
  const o = cmd.opts();
  const options: Partial<DemoOptions> = {
    peers: o.peers, rounds: o.rounds, attackers: o.attackers, lateJoiners: o.lateJoiners, attack: o.attack, dataset: o.dataset, model: o.model,
    partition: o.partition, rule: o.rule, ruleParam: o.ruleParam, maxSamples: o.maxSamples, epochs: o.epochs,
    trainingWindow: o.trainingWindow, dpClip: o.dpClip, dpSigma: o.dpSigma, dpBudget: o.dpBudget, dp: o.dp, dpBatch: o.dpBatch, linkMode: o.linkMode,
    scenario: o.scenario, compression: o.compression, clusters: o.clusters, private: o.private, task: o.taskParam, chain: o.chain, hosts: o.hosts, port: o.port, keepRunning: o.keepRunning, json: o.json, evaluate: o.evaluate, quiet: o.quiet,
  };
  validateDemoOptions(resolveDemoOptions(options));
  return { help: false, options };
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ParsedDemoArgs;
  try {
    parsed = parseDemoArgs(argv);
  } catch (err) {
    if (err instanceof CommanderError || err instanceof RangeError) {
      process.stderr.write(`peerfl demo: ${err.message.replace(/^error: /, "")}\n(run "peerfl demo --help" for the flags)\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) { process.stdout.write(demoHelp()); return 0; }

  // Ctrl-C / SIGTERM: the first one stops every process the demo started (they run in their own
  // process groups, so the terminal's signal does not reach them); a second one exits at once
  // (the process-exit hook in lib/processes still kills the groups).
  const abort = new AbortController();
  let handle: DemoHandle | undefined;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    process.stderr.write(`\n${sig}: stopping every process the demo started ...\n`);
    abort.abort(new Error(sig));
    if (handle) void handle.stop().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    handle = await runDemo({ ...parsed.options, signal: abort.signal });
  } catch (err) {
    if (err instanceof DemoAbortedError) return 130;
    if ((err as Error)?.name === "NetnsUnavailableError") {
      process.stderr.write(`peerfl demo --hosts netns: ${(err as Error).message}\n`);
      return 2;
    }
    if (err instanceof AnvilMissingError) {
      process.stderr.write(`peerfl demo: ${err.message}\n`);
      return 2;
    }
    if (err instanceof AgentDiedError) {
      process.stderr.write(`peerfl demo: ${err.message}\nstopped the chain, the IPFS node and every agent.\n`);
      return 1;
    }
    throw err;
  }
  if (parsed.options.keepRunning) {
    process.stdout.write(`\nchain ${handle.rpcUrl}, contract ${handle.contractAddress}: still running (explorer: npm run explorer -- --rpc ${handle.rpcUrl} --contract ${handle.contractAddress}). Ctrl-C stops.\n`);
    await new Promise(() => {});
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return 0;
}
