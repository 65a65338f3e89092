/**
 * What a verifier or aggregator committed to, kept until it reveals. In memory, and in a small JSON
 * file when the agent has a data directory, so a restart between commit and reveal still reveals
 * the same values (the salt is re-derived from the wallet, see TaskChain.saltFor).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface PendingVerdict { kind: "verdict"; mask: string }
export interface PendingAggregate { kind: "aggregate"; cid: string; accuracyBps: number; cumulativeEpsilonMilli: number }
export type Pending = PendingVerdict | PendingAggregate;

export class RevealStore {
  private readonly entries: Record<string, Pending>;
  private readonly file?: string;

  constructor(dir?: string) {
    this.file = dir ? path.join(dir, "pending-reveals.json") : undefined;
    this.entries = this.file && existsSync(this.file) ? (JSON.parse(readFileSync(this.file, "utf8")) as Record<string, Pending>) : {};
  }

  private key(contract: string, round: number, kind: Pending["kind"]): string {
    return `${contract.toLowerCase()}:${round}:${kind}`;
  }

  get<K extends Pending["kind"]>(contract: string, round: number, kind: K): Extract<Pending, { kind: K }> | undefined {
    return this.entries[this.key(contract, round, kind)] as Extract<Pending, { kind: K }> | undefined;
  }

  set(contract: string, round: number, value: Pending): void {
    this.entries[this.key(contract, round, value.kind)] = value;
    // keep only recent rounds
    const keys = Object.keys(this.entries);
    if (keys.length > 64) for (const k of keys.slice(0, keys.length - 64)) delete this.entries[k];
    if (this.file) {
      writeFileSync(`${this.file}.tmp`, JSON.stringify(this.entries));
      renameSync(`${this.file}.tmp`, this.file);
    }
  }
}
