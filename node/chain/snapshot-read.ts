/**
 * Reading a chain snapshot that no event raced. An agent reads its whole view of a round in one
 * multicall (TaskChain.prime). An event that arrives while that call is in flight may announce a
 * change the answer does not hold yet (the call ran in the block before); keeping that answer leaves
 * the agent on a stale phase until the old deadline. Reading live instead is correct but costs
 * several calls. So the read is simply repeated, a few times at most, until one ran with no event
 * arriving during it.
 */

/** How many times a snapshot is read before the caller gives up and reads live. */
export const MAX_SNAPSHOT_READS = 3;

/**
 * Runs `read` until no event arrived while it ran (`generation` counts the events seen so far) and
 * returns that answer. `beforeEach` runs right before each read (the caller clears what the previous
 * read already covers). Returns null when the read fails, or when events kept arriving for
 * `maxReads` reads: the caller then reads live.
 */
export async function readUnraced<T>(
  read: () => Promise<T>,
  generation: () => number,
  options: { maxReads?: number; beforeEach?: () => void } = {},
): Promise<{ value: T; reads: number } | null> {
  const maxReads = Math.max(1, options.maxReads ?? MAX_SNAPSHOT_READS);
  for (let reads = 1; reads <= maxReads; reads++) {
    const before = generation();
    options.beforeEach?.();
    let value: T;
    try {
      value = await read();
    } catch {
      return null;
    }
    if (generation() === before) return { value, reads };
  }
  return null;
}
