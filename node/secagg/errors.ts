/** Errors of the secure-aggregation library: each names what was wrong, never a bare "invalid". */

/** Parameters that cannot give a correct protocol (range, scale, neighbourhood, threshold). */
export class SecAggConfigError extends Error {
  override name = "SecAggConfigError";
}

/** Bytes that are not a canonical masked update, setup bundle or reveal bundle of this version. */
export class SecAggFormatError extends Error {
  override name = "SecAggFormatError";
  constructor(readonly what: string, reason: string) {
    super(`malformed ${what}: ${reason}`);
  }
}

/** A ciphertext that does not authenticate (tampered, wrong key, or wrong context). */
export class ShareDecryptionError extends Error {
  override name = "ShareDecryptionError";
}

/** Fewer than `threshold` valid shares for a secret, or shares that do not reconstruct a consistent secret. */
export class ReconstructionError extends Error {
  override name = "ReconstructionError";
}

/** The round cannot be unmasked; `reasons` lists each secret that could not be recovered and why. */
export class UnmaskError extends Error {
  override name = "UnmaskError";
  constructor(readonly round: number, readonly reasons: string[]) {
    super(`round ${round} cannot be unmasked: ${reasons.join("; ")}`);
  }
}
