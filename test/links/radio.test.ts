import { expect } from "chai";
import {
  DEFAULT_RADIO, PROFILES, hopLink, hopSnrDb, hopThroughputBps, sidelinkPathLossDb, umiPathLossDb, type HopKind,
} from "../../node/links/radio.ts";

const DISTANCES = [10, 25, 50, 100, 150, 200, 300, 500, 1000];
const KINDS: HopKind[] = ["uplink", "downlink", "sidelink"];

describe("links/radio: path loss, SNR and throughput", () => {
  it("reproduces TR 38.901 UMi-Street Canyon LOS at 100 m, 3.5 GHz (32.4 + 21·log10 d3D + 20·log10 fc)", () => {
    const d3 = Math.hypot(100, 10 - 1.5);
    expect(umiPathLossDb(100).los).to.be.closeTo(32.4 + 21 * Math.log10(d3) + 20 * Math.log10(3.5), 1e-9);
    expect(umiPathLossDb(100).nlos).to.be.greaterThan(umiPathLossDb(100).los);
  });

  it("reproduces TR 37.885 urban sidelink LOS/NLOS at 100 m", () => {
    const pl = sidelinkPathLossDb(100);
    expect(pl.los).to.be.closeTo(38.77 + 16.7 * 2 + 18.2 * Math.log10(3.5), 1e-9);
    expect(pl.nlos).to.be.closeTo(36.85 + 30 * 2 + 18.9 * Math.log10(3.5), 1e-9);
  });

  for (const kind of KINDS) {
    it(`${kind}: SNR and throughput never rise, latency never falls, with distance`, () => {
      const range = kind === "sidelink" ? 150 : 250;
      const hops = DISTANCES.map((d) => hopLink(kind, d, range, PROFILES.embb, DEFAULT_RADIO));
      for (let i = 1; i < hops.length; i++) {
        expect(hops[i].snrDb, `snr at ${DISTANCES[i]} m`).to.be.lessThan(hops[i - 1].snrDb);
        expect(hops[i].bandwidthBps, `throughput at ${DISTANCES[i]} m`).to.be.at.most(hops[i - 1].bandwidthBps);
        expect(hops[i].latencyMs, `latency at ${DISTANCES[i]} m`).to.be.at.least(hops[i - 1].latencyMs);
        expect(hops[i].lossRate, `loss at ${DISTANCES[i]} m`).to.be.at.least(hops[i - 1].lossRate);
      }
      expect(hops[hops.length - 1].bandwidthBps).to.be.lessThan(hops[0].bandwidthBps);
      expect(hops[hops.length - 1].latencyMs).to.be.greaterThan(hops[0].latencyMs);
    });
  }

  it("loss rises near the range edge and stays at the base rate well inside it", () => {
    const inside = hopLink("sidelink", 50, 150, PROFILES.embb);
    const edge = hopLink("sidelink", 150, 150, PROFILES.embb);
    expect(inside.lossRate).to.equal(PROFILES.embb.baseLossRate);
    expect(edge.lossRate).to.be.greaterThan(10 * inside.lossRate);
  });

  it("caps throughput at the per-mode peak and gives 0 below the minimum SNR", () => {
    expect(hopThroughputBps("sidelink", 80)).to.equal(Math.min(DEFAULT_RADIO.sidelinkPeakBps,
      DEFAULT_RADIO.sidelinkEfficiency * DEFAULT_RADIO.sidelinkBandwidthHz * DEFAULT_RADIO.maxSpectralEfficiency));
    expect(hopThroughputBps("uplink", 80)).to.be.at.most(DEFAULT_RADIO.uplinkPeakBps);
    expect(hopThroughputBps("sidelink", DEFAULT_RADIO.snrMinDb - 0.1)).to.equal(0);
    expect(hopLink("sidelink", 2000, 150, PROFILES.embb).usable).to.equal(false);
  });

  it("SNR grows with transmit power and shrinks with bandwidth (noise)", () => {
    const louder = { ...DEFAULT_RADIO, ueTxPowerDbm: 26 };
    const wider = { ...DEFAULT_RADIO, sidelinkBandwidthHz: 80e6 };
    expect(hopSnrDb("sidelink", 100, louder) - hopSnrDb("sidelink", 100)).to.be.closeTo(3, 1e-9);
    expect(hopSnrDb("sidelink", 100) - hopSnrDb("sidelink", 100, wider)).to.be.closeTo(10 * Math.log10(2), 1e-9);
  });

  it("URLLC has lower latency than eMBB on every hop kind", () => {
    for (const kind of KINDS) {
      expect(hopLink(kind, 50, 200, PROFILES.urllc).latencyMs).to.be.lessThan(hopLink(kind, 50, 200, PROFILES.embb).latencyMs);
    }
  });
});
