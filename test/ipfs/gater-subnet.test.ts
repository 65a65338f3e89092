/**
 * The IPFS gater's "the run's own subnet" rule (node/netns): besides loopback, a node may dial and
 * accept only addresses inside the IPv4 network of the namespaces its run created — never a public
 * address, never a neighbouring private network.
 */
import { expect } from "chai";
import { multiaddr } from "@multiformats/multiaddr";
import { loopbackConnectionGater } from "../../ipfs/loopback-gater.ts";
import { ipv4CidrMatcher, ipv4ToInt } from "../../node/netns/cidr.ts";

describe("gater: loopback plus the run's namespace subnet", () => {
  it("matches IPv4 networks exactly", () => {
    const inRun = ipv4CidrMatcher("10.201.37.0/24");
    expect(inRun("10.201.37.2")).to.equal(true);
    expect(inRun("10.201.37.254")).to.equal(true);
    expect(inRun("::ffff:10.201.37.9")).to.equal(true);
    expect(inRun("10.201.38.2")).to.equal(false);
    expect(inRun("8.8.8.8")).to.equal(false);
    expect(inRun("10.201.37")).to.equal(false);
    expect(ipv4ToInt("256.1.1.1")).to.equal(null);
    expect(() => ipv4CidrMatcher("10.0.0.0/99")).to.throw(RangeError);
    expect(() => ipv4CidrMatcher("nonsense")).to.throw(RangeError);
  });

  it("allows loopback and the run's subnet, refuses everything else", () => {
    const denied: string[] = [];
    const g = loopbackConnectionGater({ allowIp: ipv4CidrMatcher("10.201.37.0/24"), onDenied: (_d, ma) => denied.push(ma) });
    const deny = (a: string) => g.denyDialMultiaddr!(multiaddr(a));
    expect(deny("/ip4/127.0.0.1/tcp/4001")).to.equal(false);
    expect(deny("/ip4/10.201.37.5/tcp/4001")).to.equal(false);
    expect(deny("/ip4/10.201.36.5/tcp/4001")).to.equal(true);
    expect(deny("/ip4/1.2.3.4/tcp/4001")).to.equal(true);
    expect(deny("/dns4/example.com/tcp/4001")).to.equal(true);
    expect(denied).to.have.length(3);
    // Without the rule, the subnet is refused like any non-loopback address.
    expect(loopbackConnectionGater({}).denyDialMultiaddr!(multiaddr("/ip4/10.201.37.5/tcp/4001"))).to.equal(true);
  });
});
