import { expect } from "chai";
import { multiaddr } from "@multiformats/multiaddr";
import { loopbackConnectionGater } from "../../ipfs/loopback-gater.ts";

describe("ipfs: connection gater dial policy (emulated links)", () => {
  const gater = loopbackConnectionGater({ allowDial: (ma) => ma.includes("/tcp/1000") });

  it("refuses outbound dials the policy does not allow, even on loopback", async () => {
    expect(await gater.denyDialMultiaddr!(multiaddr("/ip4/127.0.0.1/tcp/2000"))).to.equal(true);
    expect(await gater.denyDialMultiaddr!(multiaddr("/ip4/127.0.0.1/tcp/1000"))).to.equal(false);
  });

  it("still refuses non-loopback addresses the policy would allow", async () => {
    expect(await gater.denyDialMultiaddr!(multiaddr("/ip4/10.0.0.1/tcp/1000"))).to.equal(true);
  });

  it("leaves the peer store and inbound checks to the loopback rule", async () => {
    expect(await gater.filterMultiaddrForPeer!({} as never, multiaddr("/ip4/127.0.0.1/tcp/2000"))).to.equal(true);
  });
});
