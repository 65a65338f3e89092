// Pure aggregation: rules on Float32Array, no tfjs, no network.
export * from "./errors.ts";
export * from "./fedavg.ts";
export * from "./krum.ts";
export * from "./median.ts";
export * from "./trimmedMean.ts";
export * from "./centeredClipping.ts";
export * from "./validate.ts";
export * from "./rules.ts";
export { l2Norm, l2Distance, squaredNorm, medianOf, subtract, addDelta } from "./vectors.ts";
