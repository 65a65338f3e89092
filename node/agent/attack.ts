/**
 * EXPERIMENTS ONLY: how a malicious agent (`--attack KIND`) changes what it sends. The attack plan
 * and the order in which it applies live in node/protocol/local-update.ts, shared with the simulator.
 */
import { attackPlan, type AttackPlan } from "../protocol/local-update.ts";

export type Attack = AttackPlan;

export async function createAttackFor(name: string, o: { scale?: number; rounds?: number[] } & Record<string, unknown>): Promise<Attack> {
  return attackPlan(name, { scale: o.scale, rounds: o.rounds });
}
