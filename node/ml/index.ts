/** The learning core: datasets, partitions, models, training and the weights codec. No chain, no network. */
export * from "./types.ts";
export * from "./random.ts";
export * from "./codec.ts";
export * from "./idx.ts";
export * from "./datasets.ts";
export * from "./partition.ts";
export * from "./backend.ts";
export * from "./models.ts";
export * from "./train.ts";
