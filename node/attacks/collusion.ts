/**
 * EXPERIMENTS ONLY: the side channel colluding attackers use to share their honest deltas, so that
 * ALIE, IPM, min-max and min-sum in real agents use the group's real statistics, exactly as the
 * simulator gives them. A directory every colluder can read and write (a flag, e.g. a shared tmpfs
 * or NFS path): each writes `round-R/<id>.f32` atomically and waits for the others until a deadline.
 */
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";

export interface CollusionChannel {
  /** Publish this colluder's honest delta for `round` and collect the group's (own included). */
  exchange(round: number, honestDelta: Float32Array, o: { deadlineMs: number }): Promise<Float32Array[]>;
}

export class CollusionChannelError extends Error {
  override name = "CollusionChannelError";
}

export function directoryChannel(o: { dir: string; id: string; groupSize: number; pollMs?: number }): CollusionChannel {
  if (!Number.isInteger(o.groupSize) || o.groupSize < 1) throw new CollusionChannelError(`colluder group size must be an integer >= 1, got ${o.groupSize}`);
  if (!/^[A-Za-z0-9_-]+$/.test(o.id)) throw new CollusionChannelError(`colluder id ${JSON.stringify(o.id)} must be [A-Za-z0-9_-]+`);
  return {
    async exchange(round, honestDelta, { deadlineMs }) {
      const dir = path.join(o.dir, `round-${round}`);
      await mkdir(dir, { recursive: true });
      const mine = path.join(dir, `${o.id}.f32`);
      const tmp = `${mine}.${process.pid}.tmp`;
      await writeFile(tmp, new Uint8Array(honestDelta.buffer, honestDelta.byteOffset, honestDelta.byteLength));
      await rename(tmp, mine);
      let files: string[] = [];
      for (;;) {
        files = (await readdir(dir)).filter((f) => f.endsWith(".f32")).sort();
        if (files.length >= o.groupSize || Date.now() >= deadlineMs) break;
        await new Promise((r) => setTimeout(r, o.pollMs ?? 200));
      }
      const deltas: Float32Array[] = [];
      for (const f of files) {
        const bytes = await readFile(path.join(dir, f));
        if (bytes.length !== honestDelta.byteLength) continue; // a colluder on another model: ignore
        deltas.push(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
      }
      return deltas;
    },
  };
}
