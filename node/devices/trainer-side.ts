/**
 * The device profile in a trainer's round: skip when the battery or the temperature says so
 * (nothing is committed, the reason is logged), slow training down to the tier's speed (sleeping
 * after the real training until the tier's modeled duration, never past the phase's deadline), and
 * book the round's energy.
 */
import type { Logger } from "../lib/log.ts";
import type { DeviceSession, RoundEnergy } from "./session.ts";

export interface TrainerDeviceState {
  session: DeviceSession;
  /** local epochs per round (samples trained = shard size × epochs) */
  epochs: number;
}

/** False (and a log line with the reason) when the device must sit this round out. */
export function mayTrain(d: TrainerDeviceState | undefined, round: number, nowS: number, log: Logger): boolean {
  if (!d) return true;
  const g = d.session.gate(nowS);
  if (g.train) return true;
  log.info("round-skipped", { round, tier: d.session.tier.name, reason: g.reason, detail: g.message, battery: d.session.batteryPercent.toFixed(1) + "%", temperatureC: d.session.temperatureC.toFixed(1) });
  return false;
}

/** Sleep so that training takes the tier's modeled time; returns the seconds slept. */
export async function throttleToTier(d: TrainerDeviceState | undefined, samples: number, trainedSeconds: number, latestEndS: number, nowS: number): Promise<number> {
  if (!d) return 0;
  const target = d.session.trainingSeconds(samples * d.epochs).seconds;
  const sleepS = Math.max(0, Math.min(target - trainedSeconds, latestEndS - nowS));
  if (sleepS > 0) await new Promise((r) => setTimeout(r, sleepS * 1000));
  return sleepS;
}

export function bookRound(d: TrainerDeviceState | undefined, round: number, nowS: number, work: { samples: number; uuBytes: number; sidelinkBytes: number }): RoundEnergy | null {
  if (!d) return null;
  return d.session.account(round, nowS, { samplesTrained: work.samples * d.epochs, uuBytes: work.uuBytes, sidelinkBytes: work.sidelinkBytes });
}
