// An Error reduced to plain data so it survives a thread hop (a job's
// error, a module that failed to load) and rebuilt on the other side.

/** An `Error` reduced to what survives a thread hop with its identity. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string | number;
}

/** Reduces a thrown value to a {@linkcode WireError}. */
export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) {
    return { name: "Error", message: String(error) };
  }
  const wire: WireError = {
    name: String(error.name),
    message: String(error.message),
  };
  if (typeof error.stack === "string") wire.stack = error.stack;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") wire.code = code;
  return wire;
}

/** Whether a value that crossed a thread has the shape of a {@linkcode WireError}. */
export function isWireError(value: unknown): value is WireError {
  return value !== null && typeof value === "object" &&
    typeof (value as WireError).name === "string" &&
    typeof (value as WireError).message === "string";
}

const constructors: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * Rebuilds an `Error` from a {@linkcode WireError}: the same class for the
 * built-in ones (so `instanceof TypeError` holds), the same name, message
 * and stack text otherwise.
 */
export function fromWireError(wire: WireError): Error {
  const Constructor = constructors[wire.name] ?? Error;
  const error = new Constructor(wire.message);
  if (error.name !== wire.name) {
    Object.defineProperty(error, "name", {
      value: wire.name,
      writable: true,
      configurable: true,
    });
  }
  if (wire.stack !== undefined) {
    Object.defineProperty(error, "stack", {
      value: wire.stack,
      writable: true,
      configurable: true,
    });
  }
  if (wire.code !== undefined) {
    (error as Error & { code?: string | number }).code = wire.code;
  }
  return error;
}
