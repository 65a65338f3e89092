/**
 * The checkout's root, found from this file whether it runs as TypeScript source (node/lib/) or as
 * compiled JavaScript (dist/node/lib/): the nearest directory upward whose package.json is peerfl's.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "peerfl") return dir;
      } catch { /* not ours */ }
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot find peerfl's package.json above ${start}`);
  }
}

export const PROJECT_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
