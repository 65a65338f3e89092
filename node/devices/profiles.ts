/**
 * Device tiers: how fast a peer trains, how much energy it has, what a sample trained and a
 * megabyte sent cost it, and how it heats up. PURE data and arithmetic.
 *
 * Where the figures come from (order-of-magnitude figures, not measurements of this code on phones):
 * - Radio energy per MB. Huang et al., "A Close Examination of Performance and Power
 *   Characteristics of 4G LTE Networks", MobiSys 2012, fit the LTE uplink power as
 *   P = αu·t + β with αu = 438.39 mW per Mbit/s and β = 1288.04 mW, and Wi-Fi uplink as
 *   αu = 283.17 mW per Mbit/s, β = 132.86 mW. At an uplink rate t (Mbit/s) one MB costs
 *   (αu·t + β)·8/t mJ: ≈ 3.6 J/MB at 50 Mbit/s over LTE/Uu. 5G radios are more efficient per bit
 *   at high rates (Narayanan et al., "A Variegated Look at 5G in the Wild", SIGCOMM 2021), so the
 *   flagship tier's Uu figure is set lower. For the sidelink (PC5) we take the short-range Wi-Fi
 *   fit as the proxy (≈ 2.3 J/MB at 50 Mbit/s): D2D transmits at low power to a nearby UE.
 * - Training energy per sample = SoC power under load / samples per second. Phone SoCs draw about
 *   3–5 W under sustained ML load (flagship) and 2–3 W (mid-range); a Raspberry Pi 4 about 6 W
 *   under full load (Raspberry Pi 4 Model B product brief: 5 V / 3 A supply; ≈ 6.4 W measured
 *   under stress by reviewers); a plugged-in edge box (Jetson/NUC class) 15–30 W. Samples per
 *   second are assumptions for this project's MNIST MLP (101,770 parameters, ≈ 0.6 MFLOP per
 *   sample forward + backward), scaled between tiers by the usual phone/board benchmark ratios.
 * - Batteries: flagship 4,500 mAh and mid-range 5,000 mAh at 3.85 V (typical 2023 phones);
 *   IoT board on a 10,000 mAh / 3.7 V pack; edge box mains-powered.
 * - Thermal: a lumped RC model (dT/dt = P/C − (T − T_amb)/RC); phones throttle at skin/SoC
 *   temperatures around 40–45 °C (e.g. Bhat et al. / vendor thermal governors), modeled as a speed
 *   factor above `throttleC` and no training above `maxC`.
 */

export interface DeviceTier {
  name: string;
  /** training throughput, samples per second, cool device (training is slowed to this) */
  samplesPerSecond: number;
  /** energy per sample trained (one pass forward + backward), J */
  joulesPerSample: number;
  /** power drawn while training, W (heats the device) */
  trainWatts: number;
  /** battery capacity, J (Infinity: mains-powered) */
  batteryJoules: number;
  /** radio energy per MB sent over Uu (to the base station), J */
  uuJoulesPerMB: number;
  /** radio energy per MB sent over the sidelink (PC5, D2D), J */
  sidelinkJoulesPerMB: number;
  /** thermal resistance to ambient, K/W */
  thermalResistanceKPerW: number;
  /** thermal time constant RC, s */
  thermalTimeConstantS: number;
  /** above this, training runs at `throttleFactor` of its speed, °C */
  throttleC: number;
  throttleFactor: number;
  /** at or above this, the peer does not train this round, °C */
  maxC: number;
}

const wh = (v: number): number => v * 3600;
const mAh = (capacity: number, volts: number): number => wh((capacity / 1000) * volts);

export const DEVICE_TIERS: Readonly<Record<string, DeviceTier>> = {
  "flagship-phone": {
    name: "flagship-phone", samplesPerSecond: 4000, trainWatts: 4, joulesPerSample: 4 / 4000,
    batteryJoules: mAh(4500, 3.85), uuJoulesPerMB: 2.0, sidelinkJoulesPerMB: 1.2,
    thermalResistanceKPerW: 6, thermalTimeConstantS: 300, throttleC: 42, throttleFactor: 0.5, maxC: 47,
  },
  "mid-phone": {
    name: "mid-phone", samplesPerSecond: 1500, trainWatts: 2.5, joulesPerSample: 2.5 / 1500,
    batteryJoules: mAh(5000, 3.85), uuJoulesPerMB: 3.6, sidelinkJoulesPerMB: 2.3,
    thermalResistanceKPerW: 7, thermalTimeConstantS: 300, throttleC: 42, throttleFactor: 0.5, maxC: 47,
  },
  "iot-board": {
    name: "iot-board", samplesPerSecond: 500, trainWatts: 6, joulesPerSample: 6 / 500,
    batteryJoules: mAh(10000, 3.7), uuJoulesPerMB: 3.6, sidelinkJoulesPerMB: 2.3,
    thermalResistanceKPerW: 6, thermalTimeConstantS: 600, throttleC: 70, throttleFactor: 0.6, maxC: 80,
  },
  "edge-box": {
    name: "edge-box", samplesPerSecond: 10000, trainWatts: 20, joulesPerSample: 20 / 10000,
    batteryJoules: Infinity, uuJoulesPerMB: 1.5, sidelinkJoulesPerMB: 1.0,
    thermalResistanceKPerW: 1.5, thermalTimeConstantS: 900, throttleC: 85, throttleFactor: 0.7, maxC: 95,
  },
};

export const TIER_NAMES = Object.keys(DEVICE_TIERS);

export class UnknownTierError extends Error {
  override name = "UnknownTierError";
  constructor(readonly tier: unknown) {
    super(`unknown device tier ${JSON.stringify(tier)}; known: ${TIER_NAMES.join(", ")}`);
  }
}

export function deviceTier(name: unknown): DeviceTier {
  if (typeof name !== "string" || !(name in DEVICE_TIERS)) throw new UnknownTierError(name);
  return DEVICE_TIERS[name];
}

/** Energy of one round's work: samples trained and bytes sent per link kind. */
export function roundEnergyJoules(t: DeviceTier, w: { samplesTrained: number; uuBytes: number; sidelinkBytes: number }): { train: number; uu: number; sidelink: number; total: number } {
  const train = w.samplesTrained * t.joulesPerSample;
  const uu = (w.uuBytes / 1e6) * t.uuJoulesPerMB;
  const sidelink = (w.sidelinkBytes / 1e6) * t.sidelinkJoulesPerMB;
  return { train, uu, sidelink, total: train + uu + sidelink };
}
