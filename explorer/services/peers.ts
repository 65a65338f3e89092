/** Peers and addresses: registered peers from events, account facts from the node, IPFS dialling. */
import { getAddress, isAddress } from "ethers";
import type { TxSummary } from "../chain-index.ts";
import { buildPeers, type PeerView } from "../rounds.ts";
import { contractView, type ExplorerContext } from "./context.ts";
import { NotFoundError } from "./errors.ts";

/** The contract's getPeer view (registered peers only). */
export interface PeerOnChain {
  reputation: number;
  active: boolean;
  roles: number;
}

/** The contract's peerStatus view (any address): admission, ban, revoked roles, bond and credited payouts (wei). */
export interface PeerStatusOnChain {
  admitted: boolean;
  registered: boolean;
  banned: boolean;
  revokedRoles: number;
  bond: string;
  claimable: string;
}

export interface AddressDetail {
  address: string;
  kind: "task-contract" | "peer" | "account" | "contract";
  balance: string | null;
  nonce: number | null;
  peer: (PeerView & { onChain: PeerOnChain | null; status: PeerStatusOnChain | null }) | null;
  txs: TxSummary[];
}

/** Dial the IPFS multiaddrs the peers registered on chain (again with `force`), so bitswap finds content. */
export type DialKnownPeers = (force?: boolean) => Promise<void>;

export class PeerService {
  constructor(private readonly ctx: ExplorerContext) {}

  /** Registered peers by index, then addresses that were only admitted. */
  peers(): PeerView[] {
    return [...buildPeers(this.ctx.index).values()].sort((a, b) => (a.peerIndex ?? 1e6) - (b.peerIndex ?? 1e6));
  }

  async address(text: string): Promise<AddressDetail> {
    const { index, client } = this.ctx;
    if (!isAddress(text)) throw new NotFoundError("address", `"${text}" is not a 20-byte hex address`);
    const address = getAddress(text);
    const txs = index.txsOfAddress(address);
    const peerView = buildPeers(index).get(address.toLowerCase()) ?? null;
    const onChainPeer = peerView?.registered
      ? await contractView(this.ctx, async (t): Promise<PeerOnChain> => {
          const p = await t.getPeer(address);
          return { reputation: Number(p.reputation), active: Boolean(p.active), roles: Number(p.roles) };
        })
      : null;
    const status = peerView
      ? await contractView(this.ctx, async (t): Promise<PeerStatusOnChain> => {
          const s = await t.peerStatus(address);
          return {
            admitted: Boolean(s.admitted),
            registered: Boolean(s.registered),
            banned: Boolean(s.banned),
            revokedRoles: Number(s.revokedRoles),
            bond: BigInt(s.bond).toString(),
            claimable: BigInt(s.claimable).toString(),
          };
        })
      : null;
    const facts = await client
      .use(async (p) => ({ balance: await p.getBalance(address), nonce: await p.getTransactionCount(address), code: await p.getCode(address) }))
      .catch(() => null);
    const isTask = index.isContract(address);
    if (!isTask && !peerView && txs.length === 0 && (!facts || (facts.balance === 0n && facts.nonce === 0 && facts.code === "0x"))) {
      throw new NotFoundError("address", `${address} has no transactions, balance or code on this chain and is not a registered peer`);
    }
    return {
      address,
      kind: isTask ? "task-contract" : peerView ? "peer" : facts && facts.code !== "0x" ? "contract" : "account",
      balance: facts ? facts.balance.toString() : null,
      nonce: facts ? facts.nonce : null,
      peer: peerView ? { ...peerView, onChain: onChainPeer, status } : null,
      txs: txs.slice(0, 200),
    };
  }

  readonly dialKnownPeers: DialKnownPeers = async (force = false) => {
    // Banned and departed peers too: they may still provide content referenced on chain.
    const addrs = this.peers().filter((p) => p.registered).map((p) => p.multiaddr).filter(Boolean);
    if (addrs.length) await this.ctx.content.dialPeers(addrs, force).catch(() => 0);
  };
}
