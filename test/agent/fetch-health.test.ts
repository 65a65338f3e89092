/**
 * The abstention rule (protocol/availability.ts) and the verifiers' fetch order, as pure functions:
 * when a verifier's "unavailable" votes would say more about its own fetching than about the
 * trainers, it abstains; a lone withholder never makes it abstain.
 */
import { expect } from "chai";
import { fetchHealth, MIN_FETCHED_SHARE } from "../../node/protocol/availability.ts";
import { fetchOrder } from "../../node/roles/verifier.ts";

const ok = { weights: new Float32Array(1) };
const missing = { weights: null, unusable: { code: "unavailable" } };
const garbage = { weights: null, unusable: { code: "bad-encoding" } };
const n = <T>(k: number, x: T): T[] => Array.from({ length: k }, () => x);

describe("verifier fetch health (abstain instead of voting 'unavailable')", () => {
  it("votes normally when it fetched most updates, whatever the rest", () => {
    expect(fetchHealth([...n(40, ok), ...n(10, missing)])).to.deep.equal({ total: 50, fetched: 40, unavailable: 10, abstain: false });
    expect(MIN_FETCHED_SHARE).to.equal(0.5);
    expect(fetchHealth([...n(25, ok), ...n(25, missing)]).abstain, "exactly half fetched").to.equal(false);
  });

  it("abstains when it fetched less than half (the 50-peer run: 2-10 of 50)", () => {
    expect(fetchHealth([...n(8, ok), ...n(42, missing)])).to.deep.equal({ total: 50, fetched: 8, unavailable: 42, abstain: true });
    expect(fetchHealth(n(5, missing)).abstain).to.equal(true);
  });

  it("a lone withholder never makes a verifier abstain, even alone in the round", () => {
    expect(fetchHealth([missing]).abstain).to.equal(false);
    expect(fetchHealth([ok, missing]).abstain).to.equal(false);
  });

  it("bytes that came but do not decode count as fetched (the trainer's fault, not the verifier's)", () => {
    expect(fetchHealth([...n(4, garbage), missing, missing])).to.deep.include({ fetched: 4, unavailable: 2, abstain: false });
  });

  it("withholders must hold more than half of the commits to make an honest verifier abstain", () => {
    expect(fetchHealth([...n(3, ok), ...n(3, missing)]).abstain).to.equal(false);
    expect(fetchHealth([...n(3, ok), ...n(4, missing)]).abstain).to.equal(true);
  });

  it("fetch order: every commit once, rotated by the verifier's address so committee members start apart", () => {
    const a = fetchOrder("0x00000000000000000000000000000000000000a3", 10);
    expect([...a].sort((x, y) => x - y)).to.deep.equal([...Array(10).keys()]);
    expect(a[0]).to.equal(0xa3 % 10);
    expect(fetchOrder("0x0000000000000000000000000000000000000001", 10)[0]).to.equal(1);
    expect(fetchOrder("0x1", 0)).to.deep.equal([]);
  });
});
