/** Where a search query leads: a round, block, address, transaction or CID page. */
import { getAddress, isAddress, isHexString } from "ethers";
import type { ChainIndex } from "../chain-index.ts";
import { parseCid } from "../cid.ts";

export type SearchTarget = { kind: "block" | "tx" | "address" | "round" | "cid"; path: string };

/** The page a query leads to; null when nothing matches. */
export function searchTarget(index: ChainIndex, query: string): SearchTarget | null {
  const q = query.trim();
  if (!q) return null;
  const round = /^(?:round|r)\s*#?\s*(\d+)$/i.exec(q);
  if (round) return { kind: "round", path: `/round/${round[1]}` };
  if (/^\d+$/.test(q)) return { kind: "block", path: `/block/${q}` };
  if (isAddress(q as unknown)) return { kind: "address", path: `/address/${getAddress(q)}` };
  if (isHexString(q, 32)) {
    const isBlock = [...index.blocks.values()].some((b) => b.hash.toLowerCase() === q.toLowerCase());
    return isBlock ? { kind: "block", path: `/block/${q}` } : { kind: "tx", path: `/tx/${q}` };
  }
  const cid = parseCid(q);
  if (cid) return { kind: "cid", path: `/cid/${cid.toString()}` };
  return null;
}
