/** An unknown attack name or an attack parameter out of range. */
export class AttackParameterError extends Error {
  override name = "AttackParameterError";
}
