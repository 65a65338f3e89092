/** Turning ethers' decoded values into plain, JSON-safe data. */
import { Result, type ParamType } from "ethers";
import { maskFrom, maskHas, maskToFlags } from "../node/protocol/codecs.ts";

export type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

/** Decoded ABI values -> plain data: bigints become numbers when safe, else decimal strings. */
export function toPlain(value: unknown, param?: ParamType): Plain {
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value instanceof Result || Array.isArray(value)) {
    const items = Array.from(value as ArrayLike<unknown>);
    if (param?.isTuple() && param.components) {
      const out: { [key: string]: Plain } = {};
      param.components.forEach((component, i) => {
        out[component.name || String(i)] = toPlain(items[i], component);
      });
      return out;
    }
    const child = param?.isArray() ? param.arrayChildren ?? undefined : undefined;
    return items.map((item) => toPlain(item, child));
  }
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return String(value);
}

/** Named arguments of a decoded call/event/error as a plain object. */
export function namedArgs(inputs: readonly ParamType[], args: Result): { [key: string]: Plain } {
  const out: { [key: string]: Plain } = {};
  inputs.forEach((input, i) => {
    out[input.name || `arg${i}`] = toPlain(args[i], input);
  });
  return out;
}

/** JSON.stringify replacer for values that may still hold bigints. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** Bit i of a mask (uint256 as bigint/number/string). The codec is node/protocol's. */
export function maskBit(mask: bigint | number | string, index: number): boolean {
  return maskHas(BigInt(mask), index);
}

export function maskToBits(mask: bigint | number | string, count: number): boolean[] {
  return maskToFlags(BigInt(mask), count);
}

export const bitsToMask = maskFrom;

/** "101" style rendering of a mask over `count` commits, commit 0 first. */
export function maskLabel(mask: bigint | number | string, count: number): string {
  return maskToBits(mask, count).map((b) => (b ? "1" : "0")).join("");
}
