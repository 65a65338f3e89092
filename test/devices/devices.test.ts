import { expect } from "chai";
import { DEVICE_TIERS, deviceTier, roundEnergyJoules, UnknownTierError } from "../../node/devices/profiles.ts";
import { DeviceScenarioError, parseDevices } from "../../node/devices/scenario.ts";
import { DeviceSession } from "../../node/devices/session.ts";
import { AMBIENT_C, speedFactor, thermalStep, trainWithThermals } from "../../node/devices/thermal.ts";
import { mayTrain, throttleToTier } from "../../node/devices/trainer-side.ts";
import { createLogger } from "../../node/lib/log.ts";
import { parseScenario, ScenarioError } from "../../node/links/scenario.ts";

const lines: string[] = [];
const log = createLogger({ name: "t", format: "json", level: "debug", write: (l: string) => lines.push(l) });

describe("devices: tiers and energy", () => {
  it("every tier has positive figures; slower tiers cost more per sample than faster phones", () => {
    for (const t of Object.values(DEVICE_TIERS)) {
      expect(t.samplesPerSecond).to.be.greaterThan(0);
      expect(t.uuJoulesPerMB).to.be.greaterThan(t.sidelinkJoulesPerMB);
      expect(t.joulesPerSample).to.be.closeTo(t.trainWatts / t.samplesPerSecond, 1e-12);
    }
    expect(deviceTier("iot-board").joulesPerSample).to.be.greaterThan(deviceTier("flagship-phone").joulesPerSample);
    expect(() => deviceTier("toaster")).to.throw(UnknownTierError, /flagship-phone/);
  });
  it("a round's energy is samples × J/sample plus MB × J/MB per link", () => {
    const t = deviceTier("mid-phone");
    const e = roundEnergyJoules(t, { samplesTrained: 3000, uuBytes: 2e6, sidelinkBytes: 1e6 });
    expect(e.train).to.be.closeTo(3000 * t.joulesPerSample, 1e-9);
    expect(e.uu).to.be.closeTo(2 * t.uuJoulesPerMB, 1e-9);
    expect(e.total).to.be.closeTo(e.train + e.uu + e.sidelink, 1e-9);
  });
});

describe("devices: thermal model", () => {
  const t = deviceTier("flagship-phone");
  it("heats toward ambient + P·R under load and cools back toward ambient", () => {
    const hot = thermalStep(t, AMBIENT_C, t.trainWatts, 1e6);
    expect(hot).to.be.closeTo(AMBIENT_C + t.trainWatts * t.thermalResistanceKPerW, 1e-6);
    expect(thermalStep(t, 45, 0, t.thermalTimeConstantS)).to.be.closeTo(AMBIENT_C + 20 / Math.E, 1e-9);
  });
  it("throttles above the threshold and stops at the maximum", () => {
    expect(speedFactor(t, 30)).to.equal(1);
    expect(speedFactor(t, t.throttleC + 0.1)).to.equal(t.throttleFactor);
    expect(speedFactor(t, t.maxC)).to.equal(0);
    const cool = trainWithThermals(t, AMBIENT_C, 1000);
    const warm = trainWithThermals(t, t.throttleC + 1, 1000);
    expect(cool.seconds).to.be.closeTo(1000 / t.samplesPerSecond, 1e-6);
    expect(warm.seconds).to.be.greaterThan(cool.seconds * 1.5);
    expect(warm.throttledSeconds).to.be.greaterThan(0);
  });
});

describe("devices: a peer's session", () => {
  it("skips a round when the battery is below the threshold and not charging, with the reason logged", () => {
    const s = new DeviceSession({ tier: "mid-phone", batteryPercent: 15, charging: false });
    lines.length = 0;
    expect(mayTrain({ session: s, epochs: 1 }, 4, 1000, log)).to.equal(false);
    const entry = JSON.parse(lines[0]);
    expect(entry.msg ?? entry.event).to.equal("round-skipped");
    expect(JSON.stringify(entry)).to.include("battery-low");
    expect(new DeviceSession({ tier: "mid-phone", batteryPercent: 15, charging: true }).gate(0).train).to.equal(true);
    expect(new DeviceSession({ tier: "mid-phone", batteryPercent: 25 }).gate(0).train).to.equal(true);
  });
  it("drains the battery by each round's energy until the peer stops training; charging refills it", () => {
    const s = new DeviceSession({ tier: "mid-phone", batteryPercent: 20.01, minBatteryPercent: 20 });
    expect(s.gate(0).train).to.equal(true);
    const e = s.account(1, 10, { samplesTrained: 20000, uuBytes: 5e6, sidelinkBytes: 0 });
    expect(e.totalJ).to.be.greaterThan(0);
    expect(s.batteryPercent).to.be.below(20);
    expect(s.gate(20).reason).to.equal("battery-low");
    const c = new DeviceSession({ tier: "mid-phone", batteryPercent: 10, charging: true, chargeWatts: 10 });
    c.gate(0);
    c.gate(3600);
    expect(c.batteryPercent).to.be.closeTo(10 + (100 * 36000) / deviceTier("mid-phone").batteryJoules, 1e-6);
  });
  it("a hot device sits out until it has cooled", () => {
    const s = new DeviceSession({ tier: "flagship-phone", charging: true });
    s.gate(0);
    // heavy work heats it past the maximum
    for (let r = 0; r < 200 && s.temperatureC < deviceTier("flagship-phone").maxC; r++) s.account(r, 0, { samplesTrained: 400_000, uuBytes: 0, sidelinkBytes: 0 });
    expect(s.gate(0).reason).to.equal("too-hot");
    expect(s.gate(3000).train).to.equal(true);
  });
  it("an edge box is mains-powered: never low, always charging", () => {
    const s = new DeviceSession({ tier: "edge-box" });
    expect(s.charging).to.equal(true);
    s.account(1, 0, { samplesTrained: 1e6, uuBytes: 1e9, sidelinkBytes: 0 });
    expect(s.batteryPercent).to.equal(100);
  });
  it("throttling sleeps the difference between the tier's time and the real training time, capped by the deadline", async () => {
    const s = new DeviceSession({ tier: "iot-board" });
    const slept = await throttleToTier({ session: s, epochs: 1 }, 50, 0, 1000.05, 1000); // 0.1 s modeled, 0.05 s left
    expect(slept).to.be.closeTo(0.05, 1e-9);
    expect(await throttleToTier({ session: s, epochs: 1 }, 50, 5, 2000, 1000)).to.equal(0); // already slower than the tier
  });
});

describe("devices: scenario files", () => {
  it("reads per-peer tiers from the link scenario's devices and names bad fields", () => {
    expect(parseDevices([{ tier: "iot-board", batteryPercent: 50 }])).to.deep.equal([{ tier: "iot-board", batteryPercent: 50 }]);
    expect(() => parseDevices([{ tier: "toaster" }])).to.throw(DeviceScenarioError, /devices\[0\]\.tier/);
    expect(() => parseDevices([{ tier: "mid-phone", battery: 3 }])).to.throw(DeviceScenarioError, /devices\[0\]\.battery/);
    expect(() => parseScenario({ peers: [{ x: 0, y: 0 }], devices: [{ tier: "mid-phone", charging: "yes" }] })).to.throw(DeviceScenarioError, /charging/);
    expect(parseScenario({ peers: [{ x: 0, y: 0 }], devices: [{ tier: "mid-phone" }] }).peers.length).to.equal(1);
    expect(() => parseScenario({ peers: [{ x: 0, y: 0 }], device: [] })).to.throw(ScenarioError, /device/);
  });
});

describe("devices: the agent's --device-tier flag", () => {
  it("takes a known tier and refuses an unknown one", async () => {
    const { parseAgentArgs, UsageError } = await import("../../node/agent/config.ts");
    expect(parseAgentArgs(["--device-tier", "iot-board"])?.deviceTier).to.equal("iot-board");
    expect(parseAgentArgs([])?.deviceTier).to.equal(undefined);
    expect(() => parseAgentArgs(["--device-tier", "toaster"])).to.throw(UsageError, /toaster/);
  });
});
