/**
 * Contract events pushed by the node: one WebSocket per agent (`eth_subscribe("logs")` on the RPC
 * URL with ws:// instead of http://, which Hardhat's node, Anvil, geth and reth all serve), so an
 * agent learns of a phase change without asking. A pushed notification is not a JSON-RPC request:
 * an idle agent sends none. When the socket closes (the node restarted, or an endpoint without
 * WebSocket support), it reconnects with backoff and says so through `onReconnect`, so the caller
 * can check whether the chain was reset; while it is down the caller's polling fallback runs.
 *
 * Node 22's built-in WebSocket client is used (no extra package).
 */
export interface StreamLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
  removed: boolean;
}

export interface EventStream {
  /** true while a subscription is live (pushed events arrive). */
  readonly live: boolean;
  /** how many JSON-RPC requests the stream sent (one eth_subscribe per connection). */
  readonly requests: number;
  close(): void;
}

export interface EventStreamOptions {
  /** the node's HTTP(S) JSON-RPC URL; ws(s):// is derived from it */
  rpcUrl: string;
  address: string;
  onLog: (log: StreamLog) => void;
  /** called after a reconnection (not the first connection): events may have been missed */
  onReconnect?: () => void;
  onState?: (live: boolean, reason?: string) => void;
  /** first backoff after a failure (default 1 s), doubled up to maxBackoffMs (default 15 s) */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** ws:// (or wss://) URL of an http(s):// JSON-RPC URL. */
export function wsUrlOf(rpcUrl: string): string {
  const u = new URL(rpcUrl);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  else if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new Error(`not an http(s) or ws(s) URL: ${rpcUrl}`);
  return u.toString();
}

export function openEventStream(o: EventStreamOptions): EventStream {
  let ws: WebSocket | undefined;
  let live = false;
  let closed = false;
  let connections = 0;
  let requests = 0;
  let backoff = o.backoffMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  const url = wsUrlOf(o.rpcUrl);

  const setLive = (v: boolean, reason?: string) => {
    if (live === v) return;
    live = v;
    o.onState?.(v, reason);
  };

  const connect = () => {
    if (closed) return;
    let socket: WebSocket;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      retry((err as Error).message);
      return;
    }
    ws = socket;
    let subId: string | undefined;
    socket.onopen = () => {
      requests++;
      socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["logs", { address: o.address }] }));
    };
    socket.onmessage = (m: MessageEvent) => {
      let msg: { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: { subscription: string; result: Record<string, unknown> } };
      try { msg = JSON.parse(String(m.data)); } catch { return; }
      if (msg.id === 1) {
        if (msg.error || typeof msg.result !== "string") { socket.close(); retry(`eth_subscribe refused: ${msg.error?.message ?? "no id"}`); return; }
        subId = msg.result;
        backoff = o.backoffMs ?? 1000;
        const again = connections++ > 0;
        setLive(true);
        if (again) o.onReconnect?.();
        return;
      }
      if (msg.method === "eth_subscription" && msg.params && msg.params.subscription === subId) {
        const r = msg.params.result;
        o.onLog({
          address: String(r.address), topics: (r.topics as string[]) ?? [], data: String(r.data ?? "0x"),
          blockNumber: Number(r.blockNumber ?? 0), transactionHash: String(r.transactionHash ?? ""), logIndex: Number(r.logIndex ?? 0), removed: Boolean(r.removed),
        });
      }
    };
    socket.onerror = () => { /* followed by close */ };
    socket.onclose = (ev: CloseEvent) => {
      if (ws !== socket) return;
      ws = undefined;
      retry(`socket closed (${ev.code})`);
    };
  };

  const retry = (reason: string) => {
    setLive(false, reason);
    if (closed || timer) return;
    timer = setTimeout(() => { timer = undefined; connect(); }, backoff);
    timer.unref?.();
    backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 15_000);
  };

  connect();
  return {
    get live() { return live; },
    get requests() { return requests; },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const s = ws;
      ws = undefined;
      live = false;
      try { s?.close(); } catch { /* already closed */ }
    },
  };
}
