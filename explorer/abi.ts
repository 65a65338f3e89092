/**
 * The ABI the explorer decodes with: the compiled FederatedTask artifact when it exists (it may add
 * errors/functions of OpenZeppelin bases), merged with the fixed IFederatedTask interface ABI, which
 * is kept here as JSON (generated with solc-js from contracts/interfaces/IFederatedTask.sol; a test
 * checks it still matches the interface).
 */
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../node/lib/paths.ts";
import { Interface, type InterfaceAbi, type JsonFragment } from "ethers";

export const REPO_ROOT = PROJECT_ROOT;
const here = path.join(PROJECT_ROOT, "explorer");
export const INTERFACE_ABI_PATH = path.join(here, "abi", "IFederatedTask.abi.json");
export const ARTIFACT_PATH = path.join(REPO_ROOT, "artifacts", "contracts", "FederatedTask.sol", "FederatedTask.json");

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

export function interfaceAbi(): JsonFragment[] {
  return readJson(INTERFACE_ABI_PATH) as JsonFragment[];
}

/** The artifact ABI (if compiled) merged with the interface ABI, deduplicated by signature. */
export function federatedTaskAbi(artifactPath: string = ARTIFACT_PATH): JsonFragment[] {
  const parts: JsonFragment[][] = [];
  if (existsSync(artifactPath)) {
    const artifact = readJson(artifactPath) as { abi?: JsonFragment[] };
    if (Array.isArray(artifact.abi)) parts.push(artifact.abi);
  }
  parts.push(interfaceAbi());
  const seen = new Set<string>();
  const merged: JsonFragment[] = [];
  for (const abi of parts) {
    for (const fragment of abi) {
      const key = fragmentKey(fragment);
      if (seen.has(key)) continue;
      seen.add(key);
      merged.push(fragment);
    }
  }
  return merged;
}

function fragmentKey(fragment: JsonFragment): string {
  const types = (fragment.inputs ?? []).map((p) => p.type).join(",");
  return `${fragment.type}:${fragment.name ?? ""}(${types})`;
}

export function federatedTaskInterface(artifactPath?: string): Interface {
  return new Interface(federatedTaskAbi(artifactPath) as InterfaceAbi);
}

/** The compiled artifact (abi + bytecode) or null when the contract is not compiled yet. */
export function federatedTaskArtifact(artifactPath: string = ARTIFACT_PATH): { abi: JsonFragment[]; bytecode: string } | null {
  if (!existsSync(artifactPath)) return null;
  const artifact = readJson(artifactPath) as { abi: JsonFragment[]; bytecode: string };
  return { abi: artifact.abi, bytecode: artifact.bytecode };
}

// The round's names come from node/protocol (one table for agents, explorer and audit).
export { phaseName, Phase, roleNamesOf as roleNames } from "../node/protocol/ids.ts";
import { ADMISSION_MODES, BAN_REASONS, Phase, failureReasonText, reputationReasonText, ruleNameOf } from "../node/protocol/ids.ts";
export const PHASE_FINALIZED = Phase.Finalized;
export const PHASE_FAILED = Phase.Failed;

/** The phases of a round in protocol order (None and Failed excluded), as names. */
export const PHASE_ORDER: readonly string[] = (Object.keys(Phase) as (keyof typeof Phase)[])
  .filter((k) => k !== "None" && k !== "Failed")
  .sort((a, b) => Phase[a] - Phase[b]);

/** ReputationChanged.reason as text. */
export { reputationReasonText };

/** PeerBanned.reason as text. */
export function banReasonText(code: number): string {
  return (BAN_REASONS as readonly string[])[code] ?? `reason ${code}`;
}

/** TaskConfig.admissionMode as a name. */
export function admissionModeName(code: number): string {
  return (ADMISSION_MODES as readonly string[])[code] ?? `mode ${code}`;
}

/** A rule's display name from its on-chain id. */
export function ruleDisplayName(id: number): string {
  try { return ruleNameOf(id); } catch { return `rule ${id}`; }
}

export { failureReasonText };
