/**
 * One peer's device over a run: battery level, charging, temperature. Decides whether the peer may
 * train this round (battery above its threshold or charging, and not too hot), how long its
 * training should take on this tier (the agent sleeps to match), and books each round's energy.
 * Time is passed in (seconds), so the same code drives the agents (wall clock) and the simulator.
 */
import { deviceTier, roundEnergyJoules, type DeviceTier } from "./profiles.ts";
import { AMBIENT_C, thermalStep, trainWithThermals } from "./thermal.ts";

export interface DeviceConfig {
  tier: string;
  /** initial charge, % of capacity (default 100) */
  batteryPercent?: number;
  /** plugged in (mains-powered tiers always are) */
  charging?: boolean;
  /** below this charge, %, a peer that is not charging skips rounds (default 20) */
  minBatteryPercent?: number;
  /** charger power when charging, W (default 10) */
  chargeWatts?: number;
}

export type SkipReason = "battery-low" | "too-hot";

export interface RoundGate {
  train: boolean;
  reason?: SkipReason;
  message?: string;
}

export interface RoundEnergy {
  round: number;
  tier: string;
  samplesTrained: number;
  uuBytes: number;
  sidelinkBytes: number;
  trainJ: number;
  uuJ: number;
  sidelinkJ: number;
  totalJ: number;
  batteryPercent: number;
  temperatureC: number;
}

export class DeviceSession {
  readonly tier: DeviceTier;
  private batteryJ: number;
  readonly charging: boolean;
  readonly minBatteryPercent: number;
  private readonly chargeWatts: number;
  private tempC = AMBIENT_C;
  private clockS: number | null = null;

  constructor(cfg: DeviceConfig) {
    this.tier = deviceTier(cfg.tier);
    const pct = cfg.batteryPercent ?? 100;
    if (!(pct >= 0 && pct <= 100)) throw new RangeError(`batteryPercent must be in 0..100, got ${cfg.batteryPercent}`);
    const min = cfg.minBatteryPercent ?? 20;
    if (!(min >= 0 && min <= 100)) throw new RangeError(`minBatteryPercent must be in 0..100, got ${cfg.minBatteryPercent}`);
    this.batteryJ = Number.isFinite(this.tier.batteryJoules) ? (this.tier.batteryJoules * pct) / 100 : Infinity;
    this.charging = cfg.charging ?? !Number.isFinite(this.tier.batteryJoules);
    this.minBatteryPercent = min;
    this.chargeWatts = cfg.chargeWatts ?? 10;
  }

  get batteryPercent(): number {
    return Number.isFinite(this.batteryJ) ? (100 * this.batteryJ) / this.tier.batteryJoules : 100;
  }

  get temperatureC(): number { return this.tempC; }

  /** Let idle time pass: the device cools and, when plugged in, charges. */
  advance(nowS: number): void {
    if (this.clockS === null) { this.clockS = nowS; return; }
    const dt = Math.max(0, nowS - this.clockS);
    this.clockS = Math.max(this.clockS, nowS);
    this.tempC = thermalStep(this.tier, this.tempC, 0, dt);
    if (this.charging && Number.isFinite(this.batteryJ)) this.batteryJ = Math.min(this.tier.batteryJoules, this.batteryJ + this.chargeWatts * dt);
  }

  /** May the peer train in a round starting now? */
  gate(nowS: number): RoundGate {
    this.advance(nowS);
    if (!this.charging && this.batteryPercent < this.minBatteryPercent) {
      return { train: false, reason: "battery-low", message: `battery ${this.batteryPercent.toFixed(1)}% < ${this.minBatteryPercent}% and not charging` };
    }
    if (this.tempC >= this.tier.maxC) {
      return { train: false, reason: "too-hot", message: `device at ${this.tempC.toFixed(1)} °C ≥ ${this.tier.maxC} °C` };
    }
    return { train: true };
  }

  /** How long training `samplesTrained` samples takes on this tier from the current temperature (throttling included). */
  trainingSeconds(samplesTrained: number): { seconds: number; throttledSeconds: number } {
    const r = trainWithThermals(this.tier, this.tempC, samplesTrained);
    return { seconds: r.seconds, throttledSeconds: r.throttledSeconds };
  }

  /** Books a round's work at `nowS` (training heats the device; energy drains the battery). */
  account(round: number, nowS: number, work: { samplesTrained: number; uuBytes: number; sidelinkBytes: number }): RoundEnergy {
    this.advance(nowS);
    const e = roundEnergyJoules(this.tier, work);
    this.tempC = trainWithThermals(this.tier, this.tempC, work.samplesTrained).endC;
    if (Number.isFinite(this.batteryJ)) this.batteryJ = Math.max(0, this.batteryJ - e.total);
    return {
      round, tier: this.tier.name, samplesTrained: work.samplesTrained, uuBytes: work.uuBytes, sidelinkBytes: work.sidelinkBytes,
      trainJ: e.train, uuJ: e.uu, sidelinkJ: e.sidelink, totalJ: e.total,
      batteryPercent: this.batteryPercent, temperatureC: this.tempC,
    };
  }
}
