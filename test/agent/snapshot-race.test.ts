/**
 * The stale-snapshot race of TaskChain.prime(), under a controlled event stream. prime() reads an
 * agent's whole round view in one multicall; when a phase event arrives while that call is in
 * flight, the answer may predate the event, and keeping it would leave the agent on the old phase
 * until the old deadline. The reader must then read the snapshot again (one more call), and read
 * live only when events keep racing it.
 *
 * A UNIT test of the reader: the "node" here is a small fake JSON-RPC server (HTTP for calls,
 * WebSocket for eth_subscribe) that answers the multicall lens from a state object and pushes a
 * PhaseAdvanced log exactly while a chosen call is in flight. Integration tests use real nodes.
 */
import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AbiCoder, Contract, dataSlice, Interface, NonceManager, Wallet, ZeroAddress, type ParamType } from "ethers";
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import { loadTaskArtifact, makeProvider } from "../../node/chain/connect.ts";
import { multicallBytecode } from "../../node/chain/multicall.ts";
import { readUnraced } from "../../node/chain/snapshot-read.ts";
import { taskChain, type TaskChain } from "../../node/chain/task-chain.ts";
import { createLogger } from "../../node/lib/log.ts";
import { Phase } from "../../node/protocol/ids.ts";

const coder = AbiCoder.defaultAbiCoder();
const TASK = "0x00000000000000000000000000000000000000aa";

/** The zero value of an ABI type (what a fresh contract would return). */
function zeroOf(t: ParamType): unknown {
  if (t.baseType === "tuple") return t.components!.map(zeroOf);
  if (t.baseType === "array") return [];
  if (t.baseType === "bool") return false;
  if (t.baseType === "address") return ZeroAddress;
  if (t.baseType === "string") return "";
  if (t.baseType === "bytes") return "0x";
  if (t.type.startsWith("bytes")) return "0x" + "00".repeat(Number(t.type.slice(5)));
  return 0n;
}

/** One unmasked text frame, server to client. */
function sendText(socket: Duplex, text: string): void {
  const payload = Buffer.from(text);
  const head = payload.length < 126 ? Buffer.from([0x81, payload.length])
    : payload.length < 65536 ? Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff])
      : (() => { const h = Buffer.alloc(10); h[0] = 0x81; h[1] = 127; h.writeBigUInt64BE(BigInt(payload.length), 2); return h; })();
  socket.write(Buffer.concat([head, payload]));
}

/** The text of one masked client frame (the client's only message is short: eth_subscribe), or null. */
function readClientFrame(frame: Buffer): string | null {
  if ((frame[0] & 0x0f) !== 0x1) return null; // not a text frame (close, ping)
  let len = frame[1] & 0x7f;
  let at = 2;
  if (len === 126) { len = frame.readUInt16BE(2); at = 4; } else if (len === 127) { len = Number(frame.readBigUInt64BE(2)); at = 10; }
  const mask = frame.subarray(at, at + 4);
  const data = Buffer.from(frame.subarray(at + 4, at + 4 + len));
  for (let i = 0; i < data.length; i++) data[i] ^= mask[i % 4];
  return data.toString("utf8");
}

/** A fake node: answers eth_call from `state`, pushes logs on demand, counts calls. */
class FakeNode {
  readonly iface: Interface;
  state = { round: 1, phase: Phase.Training as number, block: 10 };
  ethCalls = 0;
  /** requests the fake could not answer (a test failure says which) */
  errors: string[] = [];
  multicalls = 0;
  /** runs while the answer to a multicall is held back (after it was computed): the race window */
  duringMulticall?: (n: number) => Promise<void>;
  private http!: Server;
  private sockets: Duplex[] = [];
  url = "";

  constructor() {
    this.iface = new Interface(loadTaskArtifact().abi);
  }

  async start(): Promise<void> {
    this.http = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", async () => {
        const msg = JSON.parse(body) as { id: number; method: string; params: unknown[] } | { id: number; method: string; params: unknown[] }[];
        const one = async (m: { id: number; method: string; params: unknown[] }) => {
          try {
            return { jsonrpc: "2.0", id: m.id, result: await this.answer(m.method, m.params) };
          } catch (err) {
            this.errors.push((err as Error).message);
            return { jsonrpc: "2.0", id: m.id, error: { code: -32000, message: (err as Error).message } };
          }
        };
        const out = Array.isArray(msg) ? await Promise.all(msg.map(one)) : await one(msg);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(out));
      });
    });
    // The smallest WebSocket server the client needs (RFC 6455: handshake, text frames): no package for it.
    this.http.on("upgrade", (req, socket: Duplex) => {
      const accept = createHash("sha1").update(String(req.headers["sec-websocket-key"]) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      this.sockets.push(socket);
      socket.on("error", () => undefined);
      socket.on("data", (frame: Buffer) => {
        const text = readClientFrame(frame);
        if (text === null) return;
        const m = JSON.parse(text) as { id: number; method: string };
        if (m.method === "eth_subscribe") sendText(socket, JSON.stringify({ jsonrpc: "2.0", id: m.id, result: "0xsub" }));
      });
    });
    await new Promise<void>((r) => this.http.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  /** Mine a block advancing the phase and push its PhaseAdvanced log. */
  advance(phase: number): void {
    this.state.phase = phase;
    this.state.block++;
    const ev = this.iface.getEvent("PhaseAdvanced")!;
    const log = this.iface.encodeEventLog(ev, [this.state.round, phase, 0]);
    const result = { address: TASK, topics: log.topics, data: log.data, blockNumber: "0x" + this.state.block.toString(16), transactionHash: "0x" + "11".repeat(32), logIndex: "0x0", removed: false };
    for (const ws of this.sockets) sendText(ws, JSON.stringify({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: "0xsub", result } }));
  }

  private view(data: string): string {
    const tx = this.iface.parseTransaction({ data })!;
    const fn = tx.fragment;
    const out = fn.outputs.map(zeroOf);
    if (fn.name === "taskStarted") out[0] = true;
    if (fn.name === "currentRound") out[0] = BigInt(this.state.round);
    if (fn.name === "getRound") {
      // A struct (one tuple output) or named outputs, whichever the ABI has.
      const tuple = fn.outputs.length === 1 && fn.outputs[0].baseType === "tuple";
      const r = tuple ? (out[0] as unknown[]) : out;
      const names = (tuple ? fn.outputs[0].components! : fn.outputs).map((c) => c.name);
      r[names.indexOf("phase")] = BigInt(this.state.phase);
      r[names.indexOf("phaseDeadline")] = 9_999_999_999n;
    }
    return this.iface.encodeFunctionResult(fn, out);
  }

  private async answer(method: string, params: unknown[]): Promise<unknown> {
    if (method !== "eth_call") throw new Error(`fake node: unexpected ${method}`);
    this.ethCalls++;
    const call = params[0] as { to?: string; data: string };
    if (call.to) return this.view(call.data);
    // The multicall lens: creation code + abi.encode(target, calls).
    const n = ++this.multicalls;
    const code = multicallBytecode()!;
    const [, calls] = coder.decode(["address", "bytes[]"], dataSlice(call.data, (code.length - 2) / 2));
    const raw = (calls as string[]).map((c) => this.view(c));
    const answer = coder.encode(["uint256", "uint256", "bool[]", "bytes[]"], [this.state.block, 1000, raw.map(() => true), raw]);
    await this.duringMulticall?.(n); // the answer is computed: events from now on race it
    return answer;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.destroy();
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.http.close(() => r()));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("TaskChain.prime: a snapshot raced by an event is read again (stale-snapshot race)", function () {
  this.timeout(20_000);
  let node: FakeNode;
  let chain: TaskChain;

  before(function () {
    if (!multicallBytecode()) this.skip(); // the lens is built by `npx hardhat compile`
  });

  beforeEach(async () => {
    node = new FakeNode();
    await node.start();
    const provider = makeProvider(node.url, 31337n);
    const signer = new NonceManager(Wallet.createRandom().connect(provider));
    const task = new Contract(TASK, node.iface, provider);
    chain = taskChain({ provider, signer, address: await signer.getAddress(), task, chainId: 31337n, rpcUrl: node.url }, createLogger({ name: "t", write: () => undefined }));
    for (let i = 0; i < 100 && !chain.eventsLive; i++) await sleep(20);
    expect(chain.eventsLive, "the fake node's subscription is live").to.equal(true);
  });

  afterEach(async () => {
    chain.close();
    await node.stop();
  });

  it("without a race: one multicall, and the round is answered from it", async () => {
    expect(await chain.prime(1, chain.account), node.errors.join("; ")).to.equal(true);
    expect((await chain.round(1)).phase).to.equal(Phase.Training);
    expect(node.ethCalls).to.equal(1);
    expect(chain.rpcStats().snapshotRereads).to.equal(0);
  });

  it("an event arriving while the multicall is in flight: the snapshot is read again and shows the new phase", async () => {
    node.duringMulticall = async (n) => {
      if (n !== 1) return;
      node.advance(Phase.VerifyCommit); // mined after the call ran, delivered before its answer
      await sleep(100);
    };
    expect(await chain.prime(1, chain.account)).to.equal(true);
    expect(node.multicalls, "read twice").to.equal(2);
    const round = await chain.round(1);
    expect(round.phase, "not the stale Training phase").to.equal(Phase.VerifyCommit);
    expect(node.ethCalls, "answered from the second snapshot, not live").to.equal(2);
    expect(chain.rpcStats().snapshotRereads).to.equal(1);
  });

  it("events racing every read: gives up after a bounded number of reads and reads live", async () => {
    node.duringMulticall = async () => {
      node.advance(node.state.phase + 1 <= Phase.AggregateReveal ? node.state.phase + 1 : Phase.Training);
      await sleep(100);
    };
    const phaseAfter = async () => { await sleep(150); return node.state.phase; };
    expect(await chain.prime(1, chain.account)).to.equal(false);
    expect(node.multicalls, "bounded").to.equal(3);
    const expected = await phaseAfter();
    const before = node.ethCalls;
    expect((await chain.round(1)).phase, "the live read sees the latest phase").to.equal(expected);
    expect(node.ethCalls, "a live read").to.equal(before + 1);
  });

  it("an event that arrives before the multicall starts needs no second read", async () => {
    node.advance(Phase.VerifyCommit);
    await sleep(100);
    expect(await chain.prime(1, chain.account)).to.equal(true);
    expect(node.multicalls).to.equal(1);
    expect((await chain.round(1)).phase).to.equal(Phase.VerifyCommit);
  });
});

describe("readUnraced", () => {
  it("returns the first read no event raced, and null after maxReads raced reads or a failed read", async () => {
    let gen = 0;
    let reads = 0;
    const got = await readUnraced(async () => { reads++; if (reads < 2) gen++; return reads; }, () => gen);
    expect(got).to.deep.equal({ value: 2, reads: 2 });
    expect(await readUnraced(async () => { gen++; return 1; }, () => gen, { maxReads: 2 })).to.equal(null);
    expect(await readUnraced(async () => { throw new Error("node down"); }, () => gen)).to.equal(null);
  });
});
