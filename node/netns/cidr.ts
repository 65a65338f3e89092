/** IPv4 CIDR matching for the gater's "the run's own subnet" rule (no package needed for 10 lines). */

/** The 32-bit value of a dotted IPv4 address, or null when it is not one. */
export function ipv4ToInt(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** A predicate for "inside a.b.c.d/n"; throws RangeError for a malformed CIDR. */
export function ipv4CidrMatcher(cidr: string): (ip: string) => boolean {
  const [base, bitsText] = cidr.split("/");
  const net = ipv4ToInt(base);
  const bits = Number(bitsText);
  if (net === null || !Number.isInteger(bits) || bits < 8 || bits > 32) throw new RangeError(`not an IPv4 network a.b.c.d/n (n in 8..32): ${cidr}`);
  const mask = bits === 32 ? 0xffffffff : (~(0xffffffff >>> bits)) >>> 0;
  return (ip) => {
    const v = ipv4ToInt(ip.startsWith("::ffff:") ? ip.slice(7) : ip);
    return v !== null && ((v & mask) >>> 0) === ((net & mask) >>> 0);
  };
}
