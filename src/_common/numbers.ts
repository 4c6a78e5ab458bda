// Checks of numeric options and the sizes derived from them, one rule for
// the whole package (serve(), ThreadPool, the command line).

/**
 * Returns `value` if it is an integer from `min` to `max`, else throws a
 * RangeError that states the contract: "Cannot {action} as '{name}' must be
 * {contract}: received {value}". An option bounded only below reads "a
 * positive integer" (min 1), "a non-negative integer" (min 0) or "an
 * integer of at least {min}"; one bounded on both sides reads "an integer
 * from {min} to {max}".
 *
 * @param action What the caller could not do, e.g. `"serve"`.
 * @param name The option's name.
 * @param value What the caller passed.
 * @param min The smallest value allowed.
 * @param max The largest value allowed (unbounded if omitted).
 * @returns `value`, now known to be an integer in range.
 * @throws {RangeError} If `value` is not an integer from `min` to `max`.
 */
export function checkInteger(
  action: string,
  name: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (
    typeof value === "number" && Number.isInteger(value) && value >= min &&
    value <= max
  ) return value;
  throw new RangeError(
    `Cannot ${action} as '${name}' must be ${contract(min, max)}: received ${
      String(value)
    }`,
  );
}

function contract(min: number, max: number): string {
  if (max < Number.MAX_SAFE_INTEGER) return `an integer from ${min} to ${max}`;
  if (min === 1) return "a positive integer";
  if (min === 0) return "a non-negative integer";
  return `an integer of at least ${min}`;
}

/** The smallest power of two that is at least `n` and at least 2: a ring's capacity. */
export function ringCapacity(n: number): number {
  let capacity = 2;
  while (capacity < n) capacity *= 2;
  return capacity;
}
