/** Helpers shared by every peerfl command: commander argument parsers with clear messages, signals. */
import { InvalidArgumentError } from "commander";

/** A TCP port, 0..65535 (0 = any free port). */
export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError(`not a TCP port: ${value}`);
  return n;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return n;
}

/** An integer flag `name` in [min, max]. */
export const intArg = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) => (v: string): number => {
  if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new InvalidArgumentError(`${name} must be in [${min}, ${max}], got ${n}`);
  return n;
};

/** A finite number flag `name` in [min, max]. */
export const numArg = (name: string, min: number, max = Infinity) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}"`);
  if (n < min || n > max) throw new InvalidArgumentError(`${name} must be in [${min}, ${max}], got ${n}`);
  return n;
};

/** Resolves with the signal name at the first SIGINT or SIGTERM (for long-running servers). */
export function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (sig: string) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(sig);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
