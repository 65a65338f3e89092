/**
 * Device tiers in a scenario file: the optional root key `devices` of the 5G link scenario JSON
 * (node/links/scenario.ts), one entry per peer index:
 *   "devices": [ { "tier": "flagship-phone", "batteryPercent": 80, "charging": false }, ... ]
 * Errors name the field, like the link scenario's. Peers beyond the list get no device profile.
 */
import { readFile } from "node:fs/promises";
import { deviceTier } from "./profiles.ts";
import type { DeviceConfig } from "./session.ts";

export class DeviceScenarioError extends Error {
  override name = "DeviceScenarioError";
  constructor(readonly field: string, readonly value: unknown, reason: string) {
    super(`scenario ${field} ${reason} (got ${JSON.stringify(value)})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const KEYS = ["tier", "batteryPercent", "charging", "minBatteryPercent", "chargeWatts"];

export function parseDevices(v: unknown): DeviceConfig[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new DeviceScenarioError("devices", v, "must be an array of {tier, batteryPercent?, charging?, minBatteryPercent?}");
  return v.map((d: unknown, i: number): DeviceConfig => {
    const f = `devices[${i}]`;
    if (!isObject(d)) throw new DeviceScenarioError(f, d, "must be an object");
    for (const k of Object.keys(d)) if (!KEYS.includes(k)) throw new DeviceScenarioError(`${f}.${k}`, d[k], `is not a known field (known: ${KEYS.join(", ")})`);
    try { deviceTier(d.tier); } catch (e) { throw new DeviceScenarioError(`${f}.tier`, d.tier, (e as Error).message); }
    const out: DeviceConfig = { tier: d.tier as string };
    for (const k of ["batteryPercent", "minBatteryPercent"] as const) {
      if (d[k] === undefined) continue;
      if (typeof d[k] !== "number" || !(d[k] as number >= 0 && (d[k] as number) <= 100)) throw new DeviceScenarioError(`${f}.${k}`, d[k], "must be a number in 0..100");
      out[k] = d[k] as number;
    }
    if (d.chargeWatts !== undefined) {
      if (typeof d.chargeWatts !== "number" || !(d.chargeWatts > 0)) throw new DeviceScenarioError(`${f}.chargeWatts`, d.chargeWatts, "must be a positive number");
      out.chargeWatts = d.chargeWatts;
    }
    if (d.charging !== undefined) {
      if (typeof d.charging !== "boolean") throw new DeviceScenarioError(`${f}.charging`, d.charging, "must be true or false");
      out.charging = d.charging;
    }
    return out;
  });
}

/** The `devices` of a scenario file ([] when it has none). */
export async function loadDevices(file: string): Promise<DeviceConfig[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new DeviceScenarioError("(file)", file, `cannot be read as JSON: ${(err as Error).message}`);
  }
  return parseDevices(isObject(json) ? json.devices : undefined);
}
