// User-space link emulator: a TCP proxy on 127.0.0.1 that shapes both directions of every connection
// with a pair's LinkParams, so a transfer through it takes the time the emulated 5G link implies.
//
// Per direction, bytes are cut into chunks and each chunk gets, in virtual time:
//   serialisation  — a token bucket one chunk deep: finish = max(now, previous finish) + size/bandwidth
//   propagation    — one-way latency ± uniform jitter
//   loss           — a chunk that contains a lost segment is retransmitted: delayed by an RTO
//   order          — delivery = max(own due time, previous chunk's delivery): TCP never reorders bytes
// Writes are scheduled at absolute times, so timer lateness does not accumulate over a transfer.
import net from "node:net";
import { performance } from "node:perf_hooks";
import { mulberry32, type Rng } from "../ml/random.ts";
import type { LinkParams } from "./radio.ts";

/** TCP maximum segment size used to turn a per-segment loss rate into a per-chunk one. */
export const SEGMENT_BYTES = 1460;
export const DEFAULT_CHUNK_BYTES = 16 * 1024;
/** Linux TCP_RTO_MIN. */
export const DEFAULT_MIN_RTO_MS = 200;
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 1024 * 1024;

/** Byte and time counters of one emulated link (all connections through it). */
export class LinkCounters {
  bytesUp = 0;
  bytesDown = 0;
  connections = 0;
  /** chunks that contained a lost segment and were delayed by an RTO */
  retransmits = 0;
  /** how much later the last delivered byte arrived than it would have without loss, ms, summed over directions */
  lossDelayMs = 0;
  private active = 0;
  private busySince = 0;
  private busyAccumMs = 0;

  /** time during which at least one byte was in flight on the link, ms */
  get busyMs(): number {
    return this.busyAccumMs + (this.active > 0 ? performance.now() - this.busySince : 0);
  }
  markBusy(): void {
    if (this.active++ === 0) this.busySince = performance.now();
  }
  markIdle(): void {
    if (this.active === 0) return;
    if (--this.active === 0) this.busyAccumMs += performance.now() - this.busySince;
  }
}

/** Probability that a chunk of `bytes` contains at least one lost segment. */
export function chunkLossProbability(lossRate: number, bytes: number): number {
  if (lossRate <= 0) return 0;
  return 1 - (1 - lossRate) ** Math.ceil(bytes / SEGMENT_BYTES);
}

/** RTO after RFC 6298 (SRTT + 4·RTTVAR) with Linux's 200 ms floor. */
export function retransmissionTimeoutMs(forward: LinkParams, reverse: LinkParams, minRtoMs = DEFAULT_MIN_RTO_MS): number {
  return Math.max(minRtoMs, forward.latencyMs + reverse.latencyMs + 4 * Math.hypot(forward.jitterMs, reverse.jitterMs));
}

/**
 * Predicted time (ms) for `bytes` sent at once to arrive through the shaper in the direction of `p`:
 * latency + serialisation + a retransmission penalty. Chunks leave every s ms; a lost chunk j places
 * from the end delays the end of the transfer by (RTO − j·s)+ (the pipe keeps flowing behind it), so
 * the penalty is that of the latest lost chunk. `statistic` picks its mean (default) or its median:
 * P(penalty ≤ x) = (1 − pc)^⌈(RTO − x)/s⌉, which is what a median of a few measured runs should match.
 */
export function predictTransferMs(
  p: LinkParams, bytes: number, opts: { chunkBytes?: number; rtoMs?: number; statistic?: "mean" | "median" } = {},
): number {
  if (p.bandwidthBps <= 0) return Infinity;
  const chunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const rto = opts.rtoMs ?? retransmissionTimeoutMs(p, p);
  const serialMs = (bytes * 8000) / p.bandwidthBps;
  const n = Math.ceil(bytes / chunk);
  const perChunkMs = (chunk * 8000) / p.bandwidthBps;
  const pc = chunkLossProbability(p.lossRate, chunk);
  let penalty = 0;
  if (pc > 0 && opts.statistic === "median") {
    // smallest x with (1 − pc)^m(x) ≥ ½, m(x) = number of chunks whose loss would cost more than x
    const m = pc >= 1 ? 0 : Math.log(0.5) / Math.log(1 - pc);
    const exposed = Math.min(n, Math.ceil(rto / perChunkMs));
    penalty = m >= exposed ? 0 : Math.max(0, rto - Math.floor(m) * perChunkMs);
  } else if (pc > 0) {
    let survive = 1;
    for (let j = 0; j < n && rto - j * perChunkMs > 0; j++) {
      penalty += (rto - j * perChunkMs) * pc * survive;
      survive *= 1 - pc;
    }
  }
  return p.latencyMs + serialMs + penalty;
}

interface Pending { due: number; buf: Buffer }

/** One direction of one connection. */
class ShapedPipe {
  private queue: Pending[] = [];
  private head = 0;
  private queuedBytes = 0;
  private serializerFreeAt = 0;
  private lastDue = 0;
  /** shadow of lastDue without retransmission delays: lastDue − this is the loss penalty so far */
  private lastDueLossless = 0;
  private timer: NodeJS.Timeout | null = null;
  private srcEnded = false;
  private busy = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly params: () => LinkParams,
    private readonly rtoMs: () => number,
    private readonly rng: Rng,
    private readonly chunkBytes: number,
    private readonly counters: LinkCounters,
    private readonly onDelivered: (bytes: number) => void,
    private readonly fail: (err: Error) => void,
  ) {
    src.on("data", (buf: Buffer) => this.accept(buf));
    src.on("end", () => { this.srcEnded = true; this.maybeEnd(); });
  }

  private accept(buf: Buffer): void {
    let p: LinkParams;
    let rto: number;
    try {
      p = this.params();
      rto = this.rtoMs();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (!(p.bandwidthBps > 0)) {
      this.fail(new Error(`radio link failure: ${p.mode} link has no usable throughput`));
      return;
    }
    const pChunkBase = p.lossRate;
    for (let o = 0; o < buf.length; o += this.chunkBytes) {
      const piece = buf.subarray(o, Math.min(buf.length, o + this.chunkBytes));
      const now = performance.now();
      const finish = Math.max(now, this.serializerFreeAt) + (piece.length * 8000) / p.bandwidthBps;
      this.serializerFreeAt = finish;
      const delay = Math.max(0, p.latencyMs + (2 * this.rng() - 1) * p.jitterMs);
      const lost = pChunkBase > 0 && this.rng() < chunkLossProbability(pChunkBase, piece.length);
      if (lost) this.counters.retransmits++;
      const due = Math.max(finish + delay + (lost ? rto : 0), this.lastDue);
      const penaltyBefore = this.lastDue - this.lastDueLossless;
      this.lastDue = due;
      this.lastDueLossless = Math.max(finish + delay, this.lastDueLossless);
      this.counters.lossDelayMs += this.lastDue - this.lastDueLossless - penaltyBefore;
      this.queue.push({ due, buf: piece });
    }
    this.queuedBytes += buf.length;
    if (!this.busy) { this.busy = true; this.counters.markBusy(); }
    if (this.queuedBytes > HIGH_WATER_BYTES) this.src.pause();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null || this.head >= this.queue.length) return;
    const wait = Math.max(0, this.queue[this.head].due - performance.now());
    this.timer = setTimeout(() => this.pump(), wait);
  }

  private pump(): void {
    this.timer = null;
    if (this.dst.destroyed) { this.stop(); return; }
    const now = performance.now();
    while (this.head < this.queue.length && this.queue[this.head].due <= now + 0.25) {
      const { buf } = this.queue[this.head++];
      this.queuedBytes -= buf.length;
      this.dst.write(buf);
      this.onDelivered(buf.length);
    }
    if (this.head > 1024) { this.queue = this.queue.slice(this.head); this.head = 0; }
    if (this.queuedBytes < LOW_WATER_BYTES && this.src.isPaused()) this.src.resume();
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
      if (this.busy) { this.busy = false; this.counters.markIdle(); }
      this.maybeEnd();
    } else {
      this.schedule();
    }
  }

  private maybeEnd(): void {
    if (this.srcEnded && this.head >= this.queue.length && !this.dst.destroyed) this.dst.end();
  }

  /** Drop everything still queued (the connection is gone). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    if (this.busy) { this.busy = false; this.counters.markIdle(); }
  }
}

export interface ShaperOptions {
  upstream: { host: string; port: number };
  /** parameters of the client → upstream direction, read for every chunk (mobility applies live) */
  forward: () => LinkParams;
  /** parameters of the upstream → client direction */
  reverse: () => LinkParams;
  /** port to listen on (127.0.0.1); 0 = ephemeral */
  listenPort?: number;
  counters?: LinkCounters;
  seed?: number;
  chunkBytes?: number;
  minRtoMs?: number;
}

export interface Shaper {
  readonly port: number;
  readonly counters: LinkCounters;
  close(): Promise<void>;
}

/** A port that is not the one of a running shaper but was asked for. */
export class ShaperListenError extends Error {
  override name = "ShaperListenError";
  constructor(readonly port: number, cause: Error) {
    super(`cannot listen on 127.0.0.1:${port}: ${cause.message}`);
  }
}

/** Start a shaping TCP proxy on 127.0.0.1 in front of `upstream`. */
export async function startShaper(opts: ShaperOptions): Promise<Shaper> {
  const counters = opts.counters ?? new LinkCounters();
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const minRto = opts.minRtoMs ?? DEFAULT_MIN_RTO_MS;
  const rng = mulberry32(opts.seed ?? 0x5eed);
  const rtoMs = (): number => retransmissionTimeoutMs(opts.forward(), opts.reverse(), minRto);
  const sockets = new Set<net.Socket>();

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    counters.connections++;
    const upstream = net.connect({ host: opts.upstream.host, port: opts.upstream.port, allowHalfOpen: true, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    let up: ShapedPipe | null = null;
    let down: ShapedPipe | null = null;
    const teardown = (): void => {
      up?.stop();
      down?.stop();
      client.destroy();
      upstream.destroy();
    };
    client.on("error", teardown);
    upstream.on("error", teardown);
    // A side that closes after a clean end-of-stream leaves the other direction to drain; a reset tears both down.
    client.on("close", (hadError) => { sockets.delete(client); if (hadError || !client.readableEnded) teardown(); });
    upstream.on("close", (hadError) => { sockets.delete(upstream); if (hadError || !upstream.readableEnded) teardown(); });
    up = new ShapedPipe(client, upstream, opts.forward, rtoMs, rng, chunkBytes, counters,
      (n) => { counters.bytesUp += n; }, teardown);
    down = new ShapedPipe(upstream, client, opts.reverse, rtoMs, rng, chunkBytes, counters,
      (n) => { counters.bytesDown += n; }, teardown);
  });

  const requested = opts.listenPort ?? 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new ShaperListenError(requested, err)));
    server.listen(requested, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : requested;

  return {
    port,
    counters,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      server.close(() => resolve());
    }),
  };
}
