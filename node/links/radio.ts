// Radio model of one emulated 5G hop: path loss → SNR → throughput, loss and latency.
// Pure functions of distance and configuration; mode choice lives in modes.ts.

export type LinkMode = "infrastructure" | "direct" | "relay";
export const LINK_MODES: readonly LinkMode[] = ["infrastructure", "direct", "relay"];

/** Kind of a single radio hop: Uu uplink (UE→gNB), Uu downlink (gNB→UE) or PC5 sidelink (UE→UE). */
export type HopKind = "uplink" | "downlink" | "sidelink";

/** Parameters of one ordered path (a→b), as the shaper applies them. */
export interface LinkParams {
  mode: LinkMode;
  /** one-way latency, ms */
  latencyMs: number;
  /** jitter (half-width of the uniform per-chunk delay variation), ms */
  jitterMs: number;
  /** bottleneck throughput, bit/s */
  bandwidthBps: number;
  /** residual packet loss probability after HARQ (per 1460-byte segment) */
  lossRate: number;
  /** radio hops on the path (core network not counted) */
  hops: number;
  /** index of the relay peer for mode "relay" */
  relay?: number;
  /** straight-line distance between the endpoints, m */
  distanceM: number;
  /** every hop is within its nominal range (coverage radius / sidelink range) */
  inRange: boolean;
  /** set when the scenario forced a mode that is physically impossible here and another was used */
  fallbackFrom?: LinkMode;
}

/** Latency/reliability profile, after ITU-R M.2410 usage scenarios. */
export interface LatencyProfile {
  name: string;
  /** user-plane latency of one Uu radio hop, ms (ITU-R M.2410-0 §4.7.1: 4 ms eMBB, 1 ms URLLC) */
  uuRadioMs: number;
  /** gNB ↔ UPF ↔ server/peer transport, ms. With uuRadioMs this reproduces measured commercial 5G
   * one-way UE→server delays of 7–18 ms (Narayanan et al., "A First Look at Commercial 5G Performance
   * on Smartphones", WWW 2020). */
  coreMs: number;
  /** one sidelink (PC5) hop, ms (3GPP TS 22.186 §5: 3 ms highest automation, 10–25 ms typical eV2X) */
  sidelinkMs: number;
  /** store-and-forward time inside a relay UE, ms */
  relayForwardMs: number;
  /** HARQ round trip, ms: each expected retransmission adds one */
  harqRttMs: number;
  /** residual loss after HARQ/RLC with good radio conditions (URLLC target 1e-5, M.2410 §4.10) */
  baseLossRate: number;
  /** jitter as a fraction of each hop's base latency */
  jitterFraction: number;
}

export const PROFILES: Readonly<Record<string, LatencyProfile>> = {
  embb: {
    name: "embb", uuRadioMs: 4, coreMs: 6, sidelinkMs: 10, relayForwardMs: 1,
    harqRttMs: 4, baseLossRate: 1e-4, jitterFraction: 0.25,
  },
  urllc: {
    name: "urllc", uuRadioMs: 1, coreMs: 1, sidelinkMs: 3, relayForwardMs: 0.5,
    harqRttMs: 1, baseLossRate: 1e-5, jitterFraction: 0.1,
  },
};

/** Physical-layer configuration. Defaults follow 3GPP FR1 evaluation assumptions. */
export interface RadioConfig {
  /** Uu carrier, GHz (n78) */
  uuCarrierGHz: number;
  /** sidelink carrier, GHz */
  sidelinkCarrierGHz: number;
  gnbHeightM: number;
  ueHeightM: number;
  /** TS 38.101-1 power class 3 UE: 23 dBm */
  ueTxPowerDbm: number;
  gnbTxPowerDbm: number;
  /** array/beamforming gain of the gNB panel, dBi */
  gnbAntennaGainDbi: number;
  ueAntennaGainDbi: number;
  /** TR 38.802 Table A-1 style assumptions: gNB 5 dB, UE 9 dB */
  gnbNoiseFigureDb: number;
  ueNoiseFigureDb: number;
  uuBandwidthHz: number;
  sidelinkBandwidthHz: number;
  /** fraction of Shannon capacity actually delivered: TDD slot share × overhead (DMRS, control, coding gap) */
  uplinkEfficiency: number;
  downlinkEfficiency: number;
  sidelinkEfficiency: number;
  /** highest spectral efficiency, bit/s/Hz (TS 38.214 Table 5.2.2.1-3, CQI 15, 256QAM: 7.4063) */
  maxSpectralEfficiency: number;
  uplinkPeakBps: number;
  downlinkPeakBps: number;
  sidelinkPeakBps: number;
  /** below this SNR no MCS decodes (≈ CQI 1 threshold): the hop is unusable */
  snrMinDb: number;
  /** LOS handling: probability-weighted path loss, or always LOS / NLOS */
  propagation: "expected" | "los" | "nlos";
  /** residual loss added at the nominal range edge (grows quadratically from 70 % of the range) */
  edgeLossRate: number;
  /** residual loss never exceeds this */
  maxLossRate: number;
}

export const DEFAULT_RADIO: Readonly<RadioConfig> = {
  uuCarrierGHz: 3.5,
  sidelinkCarrierGHz: 3.5,
  gnbHeightM: 10,
  ueHeightM: 1.5,
  ueTxPowerDbm: 23,
  gnbTxPowerDbm: 35,
  gnbAntennaGainDbi: 8,
  ueAntennaGainDbi: 0,
  gnbNoiseFigureDb: 5,
  ueNoiseFigureDb: 9,
  uuBandwidthHz: 100e6,
  sidelinkBandwidthHz: 40e6,
  uplinkEfficiency: 0.2,
  downlinkEfficiency: 0.6,
  sidelinkEfficiency: 0.6,
  maxSpectralEfficiency: 7.4063,
  uplinkPeakBps: 150e6,
  downlinkPeakBps: 1e9,
  sidelinkPeakBps: 200e6,
  snrMinDb: -6.7,
  propagation: "expected",
  edgeLossRate: 0.02,
  maxLossRate: 0.3,
};

const SPEED_OF_LIGHT = 299_792_458;
const THERMAL_NOISE_DBM_PER_HZ = -174;
const log10 = Math.log10;

/** 3GPP TR 38.901 Table 7.4.2-1: UMi-Street Canyon LOS probability. */
export function umiLosProbability(d2D: number): number {
  if (d2D <= 18) return 1;
  return 18 / d2D + Math.exp(-d2D / 36) * (1 - 18 / d2D);
}

/** 3GPP TR 38.901 Table 7.4.1-1: UMi-Street Canyon path loss (dB), LOS and NLOS, hE = 1 m. */
export function umiPathLossDb(d2D: number, cfg: RadioConfig = DEFAULT_RADIO): { los: number; nlos: number } {
  const d2 = Math.max(d2D, 10); // the model is defined from 10 m
  const fc = cfg.uuCarrierGHz;
  const hBs = cfg.gnbHeightM, hUt = cfg.ueHeightM;
  const d3 = Math.hypot(d2, hBs - hUt);
  const dBp = (4 * (hBs - 1) * (hUt - 1) * fc * 1e9) / SPEED_OF_LIGHT; // d'BP
  const los = d2 <= dBp
    ? 32.4 + 21 * log10(d3) + 20 * log10(fc)
    : 32.4 + 40 * log10(d3) + 20 * log10(fc) - 9.5 * log10(dBp * dBp + (hBs - hUt) ** 2);
  const nlosPrime = 35.3 * log10(d3) + 22.4 + 21.3 * log10(fc) - 0.3 * (hUt - 1.5);
  return { los, nlos: Math.max(los, nlosPrime) };
}

/** 3GPP TR 37.885 Table 6.2.1-1 (urban sidelink) LOS probability: min(1, 1.05·e^(−0.0114 d)). */
export function sidelinkLosProbability(d: number): number {
  return Math.min(1, 1.05 * Math.exp(-0.0114 * d));
}

/** 3GPP TR 37.885 Table 6.2.1-1 urban sidelink path loss (dB): LOS 38.77+16.7log d+18.2log fc, NLOS 36.85+30log d+18.9log fc. */
export function sidelinkPathLossDb(d: number, cfg: RadioConfig = DEFAULT_RADIO): { los: number; nlos: number } {
  const dd = Math.max(d, 3); // the model is defined from 3 m
  const fc = cfg.sidelinkCarrierGHz;
  const los = 38.77 + 16.7 * log10(dd) + 18.2 * log10(fc);
  const nlos = Math.max(los, 36.85 + 30 * log10(dd) + 18.9 * log10(fc));
  return { los, nlos };
}

/** Path loss of a hop with the configured LOS handling; "expected" weights LOS/NLOS (dB) by LOS probability. */
export function hopPathLossDb(kind: HopKind, distanceM: number, cfg: RadioConfig = DEFAULT_RADIO): number {
  const pl = kind === "sidelink" ? sidelinkPathLossDb(distanceM, cfg) : umiPathLossDb(distanceM, cfg);
  if (cfg.propagation === "los") return pl.los;
  if (cfg.propagation === "nlos") return pl.nlos;
  const p = kind === "sidelink" ? sidelinkLosProbability(distanceM) : umiLosProbability(distanceM);
  return p * pl.los + (1 - p) * pl.nlos;
}

/** SNR (dB) of one hop: Ptx + Gtx + Grx − PL − (−174 dBm/Hz + 10·log10 B + NF). */
export function hopSnrDb(kind: HopKind, distanceM: number, cfg: RadioConfig = DEFAULT_RADIO): number {
  const pl = hopPathLossDb(kind, distanceM, cfg);
  let txDbm: number, gains: number, nf: number, bw: number;
  if (kind === "uplink") {
    txDbm = cfg.ueTxPowerDbm; gains = cfg.ueAntennaGainDbi + cfg.gnbAntennaGainDbi;
    nf = cfg.gnbNoiseFigureDb; bw = cfg.uuBandwidthHz;
  } else if (kind === "downlink") {
    txDbm = cfg.gnbTxPowerDbm; gains = cfg.ueAntennaGainDbi + cfg.gnbAntennaGainDbi;
    nf = cfg.ueNoiseFigureDb; bw = cfg.uuBandwidthHz;
  } else {
    txDbm = cfg.ueTxPowerDbm; gains = 2 * cfg.ueAntennaGainDbi;
    nf = cfg.ueNoiseFigureDb; bw = cfg.sidelinkBandwidthHz;
  }
  const noiseDbm = THERMAL_NOISE_DBM_PER_HZ + 10 * log10(bw) + nf;
  return txDbm + gains - pl - noiseDbm;
}

/** One radio hop's contribution to a path. */
export interface HopLink {
  kind: HopKind;
  distanceM: number;
  snrDb: number;
  /** 0 when the hop cannot decode at all (SNR below snrMinDb) */
  bandwidthBps: number;
  latencyMs: number;
  jitterMs: number;
  lossRate: number;
  /** distance / nominal range */
  rangeFraction: number;
  usable: boolean;
}

/**
 * Throughput from Shannon capacity (C = B·log2(1+SNR)), spectral efficiency capped at the highest
 * MCS, scaled by an efficiency factor and capped at the hop's peak rate.
 */
export function hopThroughputBps(kind: HopKind, snrDb: number, cfg: RadioConfig = DEFAULT_RADIO): number {
  if (snrDb < cfg.snrMinDb) return 0;
  const se = Math.min(Math.log2(1 + 10 ** (snrDb / 10)), cfg.maxSpectralEfficiency);
  const [bw, eff, peak] = kind === "uplink"
    ? [cfg.uuBandwidthHz, cfg.uplinkEfficiency, cfg.uplinkPeakBps]
    : kind === "downlink"
      ? [cfg.uuBandwidthHz, cfg.downlinkEfficiency, cfg.downlinkPeakBps]
      : [cfg.sidelinkBandwidthHz, cfg.sidelinkEfficiency, cfg.sidelinkPeakBps];
  return Math.min(peak, eff * bw * se);
}

/**
 * Full model of one hop. `rangeM` is the nominal range of the hop (coverage radius for Uu, sidelink
 * range for PC5): near its edge link adaptation runs out of robust MCSs, so first-transmission BLER,
 * HARQ retransmissions (latency, jitter) and residual loss all rise.
 */
export function hopLink(
  kind: HopKind, distanceM: number, rangeM: number, profile: LatencyProfile, cfg: RadioConfig = DEFAULT_RADIO,
): HopLink {
  const snrDb = hopSnrDb(kind, distanceM, cfg);
  const bandwidthBps = hopThroughputBps(kind, snrDb, cfg);
  const rangeFraction = distanceM / rangeM;
  const edge = Math.min(2, Math.max(0, (rangeFraction - 0.7) / 0.3));
  // 10 % first-transmission BLER is the usual link-adaptation target; it degrades at the range edge.
  const bler = Math.min(0.5, 0.1 + 0.3 * edge * edge);
  const harqMs = profile.harqRttMs * (bler / (1 - bler));
  const baseMs = kind === "sidelink" ? profile.sidelinkMs : profile.uuRadioMs;
  const propagationMs = (distanceM / SPEED_OF_LIGHT) * 1000;
  const lossRate = Math.min(cfg.maxLossRate, profile.baseLossRate + cfg.edgeLossRate * edge * edge);
  return {
    kind, distanceM, snrDb, bandwidthBps, rangeFraction, lossRate,
    latencyMs: baseMs + harqMs + propagationMs,
    jitterMs: profile.jitterFraction * baseMs + profile.harqRttMs * bler,
    usable: bandwidthBps > 0,
  };
}

/** Combine hops in series: latencies add, jitters add in quadrature, throughput is the bottleneck, losses compound. */
export function composePath(
  mode: LinkMode, hops: HopLink[], extraLatencyMs: number, extraJitterMs: number, distanceM: number, relay?: number,
): LinkParams {
  const latencyMs = hops.reduce((s, h) => s + h.latencyMs, extraLatencyMs);
  const jitterMs = Math.sqrt(hops.reduce((s, h) => s + h.jitterMs ** 2, extraJitterMs ** 2));
  const bandwidthBps = Math.min(...hops.map((h) => h.bandwidthBps));
  const lossRate = 1 - hops.reduce((p, h) => p * (1 - h.lossRate), 1);
  const inRange = hops.every((h) => h.rangeFraction <= 1);
  const out: LinkParams = { mode, latencyMs, jitterMs, bandwidthBps, lossRate, hops: hops.length, distanceM, inRange };
  if (relay !== undefined) out.relay = relay;
  return out;
}
