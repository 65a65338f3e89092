// THE rules of a round, pure: no chain, no network, no tfjs. Agents, simulator, audit, explorer and
// demo are drivers of this module (see docs/architecture.md).
export * from "./ids.ts";
export * from "./codecs.ts";
export * from "./task-config.ts";
export * from "./local-update.ts";
export * from "./verdict.ts";
export * from "./model-bytes.ts";
export * from "./commitments.ts";
