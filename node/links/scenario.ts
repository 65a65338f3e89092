// Scenario: where the peers and the base station are, how far the radios reach, which profile and
// (optionally) which mode is forced. Parsed from JSON with errors that name the offending field.
import { readFile } from "node:fs/promises";
import { parseDevices } from "../devices/scenario.ts";
import { mulberry32 } from "../ml/random.ts";
import { DEFAULT_RADIO, LINK_MODES, PROFILES, type LinkMode, type RadioConfig } from "./radio.ts";

export interface Point { x: number; y: number }
/** Linear mobility: metres per second along x and y. */
export interface Velocity { vx: number; vy: number }
export interface PeerPlacement { x: number; y: number; velocity?: Velocity }

export interface Scenario {
  name: string;
  /** key of PROFILES: "embb" or "urllc" */
  profile: string;
  baseStation: Point;
  /** Uu coverage radius around the base station, m */
  coverageRadiusM: number;
  /** nominal PC5 sidelink range, m */
  sidelinkRangeM: number;
  /** null: choose per pair (direct → relay → infrastructure); otherwise use this mode where physically possible */
  forcedMode: LinkMode | null;
  peers: PeerPlacement[];
  radio: RadioConfig;
}

/** A scenario value is missing or invalid; `field` is a JSON path such as `peers[2].x`. */
export class ScenarioError extends Error {
  override name = "ScenarioError";
  constructor(readonly field: string, readonly value: unknown, reason: string) {
    super(`scenario ${field} ${reason} (got ${JSON.stringify(value)})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function finite(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ScenarioError(field, v, "must be a finite number");
  return v;
}

function positive(v: unknown, field: string): number {
  const n = finite(v, field);
  if (n <= 0) throw new ScenarioError(field, v, "must be > 0");
  return n;
}

function point(v: unknown, field: string): Point {
  if (!isObject(v)) throw new ScenarioError(field, v, "must be an object {x, y}");
  return { x: finite(v.x, `${field}.x`), y: finite(v.y, `${field}.y`) };
}

// "devices": per-peer device tiers, validated here and read by node/devices/scenario.ts.
const KNOWN_KEYS = new Set(["name", "profile", "baseStation", "coverageRadiusM", "sidelinkRangeM", "forcedMode", "peers", "radio", "devices"]);

/** Validate a parsed JSON value and fill defaults (radio overrides are merged over DEFAULT_RADIO). */
export function parseScenario(input: unknown): Scenario {
  if (!isObject(input)) throw new ScenarioError("(root)", input, "must be a JSON object");
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) throw new ScenarioError(key, input[key], `is not a known field (known: ${[...KNOWN_KEYS].join(", ")})`);
  }
  parseDevices(input.devices);
  const name = input.name === undefined ? "scenario" : input.name;
  if (typeof name !== "string") throw new ScenarioError("name", name, "must be a string");
  const profile = input.profile === undefined ? "embb" : input.profile;
  if (typeof profile !== "string" || !(profile in PROFILES)) {
    throw new ScenarioError("profile", profile, `must be one of ${Object.keys(PROFILES).join(", ")}`);
  }
  const forced = input.forcedMode === undefined || input.forcedMode === "auto" ? null : input.forcedMode;
  if (forced !== null && !LINK_MODES.includes(forced as LinkMode)) {
    throw new ScenarioError("forcedMode", forced, `must be null, "auto" or one of ${LINK_MODES.join(", ")}`);
  }
  if (!Array.isArray(input.peers) || input.peers.length < 1) {
    throw new ScenarioError("peers", input.peers, "must be a non-empty array of {x, y, velocity?}");
  }
  const peers = input.peers.map((p: unknown, i: number): PeerPlacement => {
    const at = point(p, `peers[${i}]`);
    const v = (p as Record<string, unknown>).velocity;
    if (v === undefined) return at;
    if (!isObject(v)) throw new ScenarioError(`peers[${i}].velocity`, v, "must be an object {vx, vy} in m/s");
    return { ...at, velocity: { vx: finite(v.vx, `peers[${i}].velocity.vx`), vy: finite(v.vy, `peers[${i}].velocity.vy`) } };
  });
  return {
    name,
    profile,
    baseStation: input.baseStation === undefined ? { x: 0, y: 0 } : point(input.baseStation, "baseStation"),
    coverageRadiusM: positive(input.coverageRadiusM ?? DEFAULT_COVERAGE_M, "coverageRadiusM"),
    sidelinkRangeM: positive(input.sidelinkRangeM ?? DEFAULT_SIDELINK_RANGE_M, "sidelinkRangeM"),
    forcedMode: forced as LinkMode | null,
    peers,
    radio: parseRadio(input.radio),
  };
}

function parseRadio(v: unknown): RadioConfig {
  if (v === undefined) return { ...DEFAULT_RADIO };
  if (!isObject(v)) throw new ScenarioError("radio", v, "must be an object of RadioConfig overrides");
  const out: RadioConfig = { ...DEFAULT_RADIO };
  for (const [key, value] of Object.entries(v)) {
    if (!(key in DEFAULT_RADIO)) throw new ScenarioError(`radio.${key}`, value, "is not a radio parameter");
    if (key === "propagation") {
      if (value !== "expected" && value !== "los" && value !== "nlos") {
        throw new ScenarioError("radio.propagation", value, 'must be "expected", "los" or "nlos"');
      }
      out.propagation = value;
    } else if (key === "snrMinDb" || key.endsWith("Dbm") || key.endsWith("Dbi") || key.endsWith("Db")) {
      (out as unknown as Record<string, number>)[key] = finite(value, `radio.${key}`);
    } else {
      (out as unknown as Record<string, number>)[key] = positive(value, `radio.${key}`);
    }
  }
  for (const key of ["uplinkEfficiency", "downlinkEfficiency", "sidelinkEfficiency", "edgeLossRate", "maxLossRate"] as const) {
    if (out[key] > 1) throw new ScenarioError(`radio.${key}`, out[key], "must be ≤ 1");
  }
  return out;
}

/** Read and validate a scenario JSON file. */
export async function loadScenario(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ScenarioError("(file)", file, `cannot be read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ScenarioError("(file)", file, `is not valid JSON: ${(err as Error).message}`);
  }
  return parseScenario(json);
}

export const DEFAULT_COVERAGE_M = 250;
export const DEFAULT_SIDELINK_RANGE_M = 150;
/** peers of the default scenario are scattered up to this far from the base station */
export const DEFAULT_SCATTER_M = 320;

/**
 * A deterministic scenario: `numPeers` peers scattered uniformly over a disc of DEFAULT_SCATTER_M around
 * the base station, possibly some beyond coverage. Placements are redrawn until every peer can reach
 * the chain (in coverage, or within sidelink range of an in-coverage peer), so the demo always runs.
 */
export function defaultScenario(numPeers: number, seed = 1, overrides: Partial<Omit<Scenario, "peers">> = {}): Scenario {
  if (!Number.isInteger(numPeers) || numPeers < 1) throw new ScenarioError("numPeers", numPeers, "must be an integer ≥ 1");
  const rng = mulberry32(seed);
  const base: Omit<Scenario, "peers"> = {
    name: `default-${numPeers}peers-seed${seed}`,
    profile: "embb",
    baseStation: { x: 0, y: 0 },
    coverageRadiusM: DEFAULT_COVERAGE_M,
    sidelinkRangeM: DEFAULT_SIDELINK_RANGE_M,
    forcedMode: null,
    radio: { ...DEFAULT_RADIO },
    ...overrides,
  };
  for (let attempt = 0; attempt < 1000; attempt++) {
    const peers: PeerPlacement[] = [];
    for (let i = 0; i < numPeers; i++) {
      const r = DEFAULT_SCATTER_M * Math.sqrt(rng());
      const a = 2 * Math.PI * rng();
      peers.push({ x: round1(base.baseStation.x + r * Math.cos(a)), y: round1(base.baseStation.y + r * Math.sin(a)) });
    }
    const s: Scenario = { ...base, peers };
    if (peers.every((_, i) => canReachChain(s, i))) return s;
  }
  throw new ScenarioError("numPeers", numPeers, "gives no placement where every peer reaches the chain");
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

/** Position of a peer `tSec` seconds after the scenario starts (linear mobility). */
export function positionAt(s: Scenario, peer: number, tSec = 0): Point {
  const p = s.peers[peer];
  if (p === undefined) throw new ScenarioError("peerIndex", peer, `is out of range (scenario has ${s.peers.length} peers)`);
  if (!p.velocity || tSec === 0) return { x: p.x, y: p.y };
  return { x: p.x + p.velocity.vx * tSec, y: p.y + p.velocity.vy * tSec };
}

export const distance = (a: Point, b: Point): number => Math.hypot(a.x - b.x, a.y - b.y);

export function inCoverage(s: Scenario, peer: number, tSec = 0): boolean {
  return distance(positionAt(s, peer, tSec), s.baseStation) <= s.coverageRadiusM;
}

function canReachChain(s: Scenario, peer: number): boolean {
  if (inCoverage(s, peer)) return true;
  const at = positionAt(s, peer);
  return s.peers.some((_, r) => r !== peer && inCoverage(s, r) && distance(at, positionAt(s, r)) <= s.sidelinkRangeM);
}
