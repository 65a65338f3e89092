/**
 * Peers on separate hosts, emulated on one Linux machine: each agent gets its own network namespace
 * with its own address on a bridge the run creates (`ip netns`, a veth pair per peer, one bridge).
 * The host side of the bridge holds the run's "infrastructure" address (chain node, the task
 * creator's IPFS node): agents reach them over the bridge, never over 127.0.0.1. The 5G link model's
 * per-peer uplink/downlink rates are applied with kernel `tbf` on both ends of each veth pair (the
 * kernel's netem is not available on these machines, so propagation delay is not emulated here).
 *
 * Everything created carries the run's id in its name and is deleted by `teardown()`, which is also
 * run on process exit. The namespaces have no route but the bridge's /24, so their traffic stays
 * inside what the run created. Needs root (CAP_NET_ADMIN) and iproute2; `checkNetnsSupport()` says
 * why not when it cannot.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { defaultScenario } from "../links/scenario.ts";
import { downlinkHop, uplinkHop } from "../links/modes.ts";

/** This machine cannot make network namespaces (not root, no iproute2, no kernel support). */
export class NetnsUnavailableError extends Error {
  override name = "NetnsUnavailableError";
}

export interface NetnsPeer {
  index: number;
  /** the namespace's name (`ip netns exec <ns> ...`) */
  ns: string;
  /** the peer's IPv4 address on the bridge */
  ip: string;
  /** the veth end on the host side (attached to the bridge) */
  hostVeth: string;
  /** kernel shaping applied: the peer's uplink (ns -> bridge) and downlink (bridge -> ns), bit/s; 0 = none */
  upBps: number;
  downBps: number;
}

export interface NetnsTopology {
  runId: string;
  bridge: string;
  /** the host's address on the bridge: where the chain node and the creator's IPFS node listen */
  hostIp: string;
  /** the bridge's network, e.g. 10.201.37.0/24 */
  subnet: string;
  /** the first three octets plus a dot, e.g. "10.201.37." (addresses inside the run) */
  prefix: string;
  peers: NetnsPeer[];
  /** `argv` prefix that runs a command inside peer i's namespace */
  execPrefix(i: number): string[];
  /** true for an IPv4 address inside the run's subnet */
  contains(ip: string): boolean;
  /** deletes every namespace, veth and the bridge the run created (idempotent) */
  teardown(): void;
}

export interface NetnsOptions {
  peers: number;
  /** apply the 5G model's per-peer uplink/downlink rates with tbf (default true) */
  shape?: boolean;
  /** seed of the default 5G scenario the rates come from (default 1, as the demo's) */
  scenarioSeed?: number;
  log?: (line: string) => void;
}

/**
 * iproute2's binaries by absolute path: they live in /usr/sbin or /sbin, which a non-login or CI
 * PATH often leaves out, and the agents' `ip netns exec ... tc` runs with the same PATH.
 */
function systemTool(name: string): string {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  for (const d of dirs) {
    const full = path.join(d, name);
    if (existsSync(full)) return full;
  }
  return name;
}
export const IP = systemTool("ip");
export const TC = systemTool("tc");

const ip = (args: string[]) => execFileSync(IP, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

/** Why network namespaces cannot be made here, or null when they can (creates and deletes a probe namespace). */
export function checkNetnsSupport(): string | null {
  if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "network namespaces need root (CAP_NET_ADMIN); run as root or use --hosts loopback";
  const which = spawnSync(IP, ["-V"], { stdio: "ignore" });
  if (which.error || which.status !== 0) return "the `ip` command (iproute2) is not installed";
  const probe = `pflprobe${randomBytes(3).toString("hex")}`;
  const add = spawnSync(IP, ["netns", "add", probe], { encoding: "utf8" });
  if (add.status !== 0) return `\`ip netns add\` failed: ${(add.stderr || add.error?.message || "").trim() || `exit ${add.status}`}`;
  spawnSync(IP, ["netns", "del", probe], { stdio: "ignore" });
  const tc = spawnSync(TC, ["-V"], { stdio: "ignore" });
  if (tc.error || tc.status !== 0) return "the `tc` command (iproute2) is not installed";
  return null;
}

/** A free 10.201.X.0/24: no existing address or route of this machine in it. */
function pickSubnet(): string {
  const used = ip(["-4", "route", "show"]) + ip(["-4", "addr", "show"]);
  for (let tries = 0; tries < 200; tries++) {
    const x = 1 + Math.floor(Math.random() * 250);
    const prefix = `10.201.${x}.`;
    if (!used.includes(prefix)) return prefix;
  }
  throw new NetnsUnavailableError("no free 10.201.X.0/24 subnet for the run's bridge");
}

/** tbf for `bps`: a burst of ~10 ms of traffic (at least 32 kB) and at most 100 ms of queue. */
function tbfArgs(dev: string, bps: number): string[] {
  const burst = Math.max(32 * 1024, Math.round(bps / 8 / 100));
  return ["qdisc", "replace", "dev", dev, "root", "tbf", "rate", `${Math.round(bps)}bit`, "burst", String(burst), "latency", "100ms"];
}

/**
 * Creates the bridge, one namespace + veth pair per peer, addresses, routes and shaping. On any
 * failure everything made so far is deleted and NetnsUnavailableError says what failed.
 */
export function createNetnsTopology(o: NetnsOptions): NetnsTopology {
  const why = checkNetnsSupport();
  if (why) throw new NetnsUnavailableError(why);
  if (!Number.isInteger(o.peers) || o.peers < 1 || o.peers > 250) throw new RangeError(`netns mode supports 1..250 peers (one /24), got ${o.peers}`);
  const runId = randomBytes(3).toString("hex");
  const bridge = `pflbr${runId}`;
  const prefix = pickSubnet();
  const hostIp = `${prefix}1`;
  const created: { kind: "ns" | "link"; name: string }[] = [];
  let torn = false;
  const teardown = () => {
    if (torn) return;
    torn = true;
    process.off("exit", teardown);
    // Deleting a namespace deletes its veth end, and with it the host end.
    for (const c of [...created].reverse()) {
      if (c.kind === "ns") spawnSync(IP, ["netns", "del", c.name], { stdio: "ignore" });
      else spawnSync(IP, ["link", "del", c.name], { stdio: "ignore" });
    }
  };
  process.on("exit", teardown);
  const scenario = o.shape === false ? null : defaultScenario(o.peers, o.scenarioSeed ?? 1);
  const peers: NetnsPeer[] = [];
  try {
    ip(["link", "add", bridge, "type", "bridge"]);
    created.push({ kind: "link", name: bridge });
    ip(["addr", "add", `${hostIp}/24`, "dev", bridge]);
    ip(["link", "set", bridge, "up"]);
    for (let i = 0; i < o.peers; i++) {
      const ns = `pfl${runId}p${i}`;
      const hostVeth = `pflv${runId}${i}`;
      const peerIp = `${prefix}${i + 2}`;
      ip(["netns", "add", ns]);
      created.push({ kind: "ns", name: ns });
      ip(["link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      ip(["link", "set", hostVeth, "master", bridge]);
      ip(["link", "set", hostVeth, "up"]);
      ip(["-n", ns, "link", "set", "lo", "up"]);
      ip(["-n", ns, "addr", "add", `${peerIp}/24`, "dev", "eth0"]);
      ip(["-n", ns, "link", "set", "eth0", "up"]);
      // No default route: only the run's /24 is reachable from inside.
      let upBps = 0, downBps = 0;
      if (scenario) {
        const up = uplinkHop(scenario, i), down = downlinkHop(scenario, i);
        // A peer out of coverage still gets a slow path (the relay mode's user-space emulation is not
        // available inside namespaces): 1 Mbit/s.
        upBps = up.usable && up.bandwidthBps > 0 ? up.bandwidthBps : 1e6;
        downBps = down.usable && down.bandwidthBps > 0 ? down.bandwidthBps : 1e6;
        execFileSync(IP, ["netns", "exec", ns, TC, ...tbfArgs("eth0", upBps)], { stdio: "ignore" });
        execFileSync(TC, tbfArgs(hostVeth, downBps), { stdio: "ignore" });
      }
      peers.push({ index: i, ns, ip: peerIp, hostVeth, upBps, downBps });
    }
  } catch (err) {
    teardown();
    const e = err as { stderr?: Buffer; message: string };
    throw new NetnsUnavailableError(`creating the run's namespaces failed: ${e.stderr?.toString().trim() || e.message}`);
  }
  o.log?.(`  netns      bridge ${bridge} ${hostIp}/24, ${o.peers} namespaces ${peers[0]?.ns}..${peers.at(-1)?.ns}${scenario ? ", tbf-shaped 5G up/down rates" : ""}`);
  return {
    runId, bridge, hostIp, subnet: `${prefix}0/24`, prefix, peers,
    execPrefix: (i) => [IP, "netns", "exec", peers[i].ns],
    contains: (addr) => addr.startsWith(prefix) && Number(addr.slice(prefix.length)) >= 1 && Number(addr.slice(prefix.length)) <= 254,
    teardown,
  };
}

/** Names of namespaces and links a run with `runId` created that still exist (tests check teardown). */
export function leftovers(runId: string): string[] {
  const ns = ip(["netns", "list"]).split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(`pfl${runId}`));
  const links = ip(["-o", "link", "show"]).split("\n").map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? "").filter((n) => n.includes(runId));
  return [...ns, ...links];
}
