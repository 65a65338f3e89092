// Label flipping, a data-level attack: train on y -> 9 - y (Tolpegin, Truex, Gursoy & Liu 2020, ESORICS).
import { AttackParameterError } from "./errors.ts";

/** Maps every label y in 0..numClasses-1 to numClasses - 1 - y (9 - y for 10 classes); returns a new array. */
export function labelFlip<T extends Uint8Array | Int32Array | Float32Array | number[]>(y: T, numClasses = 10): T {
  const out = (Array.isArray(y) ? [...y] : y.slice()) as T;
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new AttackParameterError(`labelFlip: label ${i} is ${v}, expected an integer in [0, ${numClasses - 1}]`);
    }
    out[i] = numClasses - 1 - v;
  }
  return out;
}
