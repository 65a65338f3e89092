/**
 * A libp2p connection gater that keeps a node on loopback: it refuses to dial, or accept a
 * connection from, any multiaddr whose host is not 127.0.0.0/8 or ::1, and keeps such addresses
 * out of the peer store. peerfl's emulated links all run on one machine; a node must never reach
 * the public IPFS network by accident.
 */
import type { ConnectionGater, MultiaddrConnection } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";

/** True if the multiaddr's first component is a loopback IP literal (DNS names are refused). */
export function isLoopbackMultiaddr(ma: Multiaddr): boolean {
  const first = ma.getComponents()[0];
  if (first == null) return false;
  if (first.name === "ip4") return first.value?.startsWith("127.") === true;
  if (first.name === "ip6") return first.value === "::1" || first.value === "0:0:0:0:0:0:0:1";
  return false;
}

/** True for a socket's remote IP string ("127.0.0.1", "::1", "::ffff:127.0.0.1"). */
export function isLoopbackIp(ip: string | undefined): boolean {
  if (ip == null) return false;
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return v4.startsWith("127.") || ip === "::1";
}

/** The IP literal a multiaddr starts with (ip4/ip6), or null. */
export function ipOfMultiaddr(ma: Multiaddr): string | null {
  const first = ma.getComponents()[0];
  return first && (first.name === "ip4" || first.name === "ip6") ? first.value ?? null : null;
}

export interface LoopbackGaterOptions {
  allowNonLoopback?: boolean;
  /**
   * Besides loopback, addresses for which this returns true are allowed (e.g. the private subnet of
   * the network namespaces a run created itself: node/netns).
   */
  allowIp?: (ip: string) => boolean;
  /** Extra outbound policy: a dial to a multiaddr for which this returns false is refused. */
  allowDial?: (multiaddr: string) => boolean;
  /** Called with each refused address (for logging). */
  onDenied?: (direction: "dial" | "inbound" | "peer-store", multiaddr: string) => void;
}

export function loopbackConnectionGater(opts: LoopbackGaterOptions = {}): ConnectionGater {
  if (opts.allowNonLoopback === true && !opts.allowDial) return {};
  const deny = (direction: "dial" | "inbound" | "peer-store", ma: Multiaddr): boolean => {
    const policyOk = direction !== "dial" || !opts.allowDial || opts.allowDial(ma.toString());
    const ip = ipOfMultiaddr(ma);
    const hostOk = opts.allowNonLoopback === true || isLoopbackMultiaddr(ma) || (ip !== null && opts.allowIp?.(ip) === true);
    if (hostOk && policyOk) return false;
    opts.onDenied?.(direction, ma.toString());
    return true;
  };
  return {
    denyDialMultiaddr: (ma: Multiaddr) => deny("dial", ma),
    denyInboundConnection: (conn: MultiaddrConnection) => deny("inbound", conn.remoteAddr),
    denyOutboundConnection: (_peer, conn: MultiaddrConnection) => deny("dial", conn.remoteAddr),
    filterMultiaddrForPeer: (_peer, ma: Multiaddr) => !deny("peer-store", ma),
  };
}
