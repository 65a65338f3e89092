/** Decoded call/event/error arguments as the explorer shows them: CID bytes as CID strings. */
import { cidToString } from "../cid.ts";
import type { Plain } from "../values.ts";

/** Replace 0x CID bytes in decoded args (fields named *cid/*Cid) by CID strings, recursively. */
export function withCidStrings(args: { [key: string]: Plain }): { [key: string]: Plain } {
  const out: { [key: string]: Plain } = {};
  for (const [key, value] of Object.entries(args)) {
    if (/cid$/i.test(key) && typeof value === "string" && value.startsWith("0x")) out[key] = cidToString(value);
    else if (value && typeof value === "object" && !Array.isArray(value)) out[key] = withCidStrings(value);
    else out[key] = value;
  }
  return out;
}
