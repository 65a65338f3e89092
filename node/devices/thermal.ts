/**
 * A lumped (single RC) thermal model of a device: heating with the power it draws, cooling toward
 * ambient with time constant RC. Exact step for piecewise-constant power:
 *   T(t + dt) = T_amb + (T − T_amb)·e^(−dt/τ) + P·R·(1 − e^(−dt/τ)).
 * PURE.
 */
import type { DeviceTier } from "./profiles.ts";

export const AMBIENT_C = 25;

export function thermalStep(t: DeviceTier, tempC: number, watts: number, seconds: number, ambientC = AMBIENT_C): number {
  if (!(seconds >= 0)) throw new RangeError(`seconds must be >= 0, got ${seconds}`);
  const decay = Math.exp(-seconds / t.thermalTimeConstantS);
  return ambientC + (tempC - ambientC) * decay + watts * t.thermalResistanceKPerW * (1 - decay);
}

/** Training speed factor at a temperature: 1 when cool, `throttleFactor` above `throttleC`, 0 at `maxC`. */
export function speedFactor(t: DeviceTier, tempC: number): number {
  if (tempC >= t.maxC) return 0;
  return tempC > t.throttleC ? t.throttleFactor : 1;
}

/** Seconds of training at `watts` from `tempC`, stepping the throttle as the device heats; returns time taken and end temperature. */
export function trainWithThermals(t: DeviceTier, tempC: number, samples: number, ambientC = AMBIENT_C): { seconds: number; endC: number; throttledSeconds: number } {
  let left = samples, temp = tempC, seconds = 0, throttled = 0;
  const stepS = 1;
  for (let guard = 0; left > 0 && guard < 1e6; guard++) {
    const f = Math.max(speedFactor(t, temp), t.throttleFactor * 0.5); // never stall mid-round: finish slowly
    const rate = t.samplesPerSecond * f;
    const dt = Math.min(stepS, left / rate);
    left -= rate * dt;
    seconds += dt;
    if (f < 1) throttled += dt;
    temp = thermalStep(t, temp, t.trainWatts, dt, ambientC);
  }
  return { seconds, endC: temp, throttledSeconds: throttled };
}
