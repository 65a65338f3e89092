/** Secure aggregation for private rounds (docs/secure-aggregation.md): the pure library. */
export * from "./errors.ts";
export * from "./config.ts";
export * from "./neighbours.ts";
export * from "./shamir.ts";
export * from "./keys.ts";
export * from "./prg.ts";
export * from "./quantize.ts";
export * from "./shares.ts";
export * from "./codec.ts";
export * from "./protocol.ts";
