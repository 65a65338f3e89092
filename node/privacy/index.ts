// Differential privacy for published updates: clipping + Gaussian noise, RDP accounting, on-chain config.
export * from "./errors.ts";
export * from "./gaussian.ts";
export * from "./accountant.ts";
export * from "./config.ts";
