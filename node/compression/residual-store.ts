/**
 * The top-k error-feedback residual a peer keeps between rounds, persisted in its data directory
 * (canonical PFLW float32 bytes, one file per task) so a restarted agent carries it over. A file
 * that is unreadable or does not fit the model is dropped with a warning: the residual then
 * restarts from zeros, which only delays some coordinates by a round.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { decodeFlatWeights, encodeFlatWeights } from "../ml/codec.ts";
import type { ModelSpec } from "../ml/types.ts";

export interface ResidualStore {
  load(): Float32Array | null;
  save(residual: Float32Array): void;
  clear(): void;
  readonly file: string;
}

export function residualFile(dataDir: string, task: string): string {
  return path.join(dataDir, "compression", `topk-residual-${task.toLowerCase()}.pflw`);
}

export function residualStore(o: { dataDir: string; task: string; spec: ModelSpec; warn?: (event: string, fields: Record<string, unknown>) => void }): ResidualStore {
  const file = residualFile(o.dataDir, o.task);
  return {
    file,
    load() {
      let bytes: Uint8Array;
      try { bytes = readFileSync(file); } catch { return null; }
      try {
        return decodeFlatWeights(bytes, o.spec);
      } catch (err) {
        o.warn?.("residual-dropped", { file, reason: (err as Error).message });
        return null;
      }
    },
    save(residual) {
      mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, encodeFlatWeights(residual, o.spec));
      renameSync(tmp, file); // atomic: a crash leaves the old residual or the new one, never half
    },
    clear() { rmSync(file, { force: true }); },
  };
}
