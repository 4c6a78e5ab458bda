// Reading the command line into CliOptions: node:util's parseArgs finds the
// flags, the tables in flags.ts say what each value must be, and every
// mistake becomes a one-line UsageError that says what to do.

import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { checkInteger } from "../_common/numbers.ts";
import {
  type CliOptions,
  PARSE_ARGS_OPTIONS,
  URL_PATH_FLAGS,
  type UrlPathFlag,
  VALUE_FLAGS,
  type ValueFlag,
} from "./flags.ts";

/** The flag values `parseArgs` found, by flag name. */
type Values = Record<string, string | boolean | undefined>;

/**
 * Parses `args` (as in `Deno.args`) into the options they give; see
 * `parseCliArgs()` in cli.ts for the contract.
 */
export function parseCommandLine(args: string[]): CliOptions {
  const { values, positionals } = parseFlags(args);
  if (positionals.length > 1) {
    throw new UsageError(
      `Expected at most one handler module, received ${positionals.length}: ${
        positionals.map((p) => `'${p}'`).join(" ")
      }`,
    );
  }
  const handler = positionals[0];
  const options: CliOptions = { help: values.help === true };
  if (handler !== undefined) options.handler = handler;
  for (const flag of VALUE_FLAGS) readValue(flag, values, options);
  if (
    options.maxWorkers !== undefined &&
    options.maxWorkers < (options.workers ?? 1)
  ) {
    throw new UsageError(
      `--max-workers (${options.maxWorkers}) must be at least --workers (${
        options.workers ?? 1
      }): it is the most an adaptive pool grows to`,
    );
  }
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new UsageError(
      "--cert and --key must be given together: pass both PEM files or neither",
    );
  }
  for (const flag of URL_PATH_FLAGS) readUrlPath(flag, values, options);
  if (handler === undefined) {
    // The book's server: 127.0.0.1:7878 with a pool of 4.
    options.hostname ??= "127.0.0.1";
    options.port ??= 7878;
    options.workers ??= 4;
  }
  return options;
}

function parseFlags(args: string[]): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args,
      options: PARSE_ARGS_OPTIONS,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw toUsageError(error);
  }
}

/** The value of a flag that takes one, or `undefined` if it was not given. */
function stringOf(values: Values, flag: string): string | undefined {
  const value = values[flag];
  return typeof value === "string" ? value : undefined;
}

/** Checks the value of an integer or a non-empty string flag into `options`. */
function readValue(
  rule: ValueFlag,
  values: Values,
  options: CliOptions,
): void {
  const value = stringOf(values, rule.flag);
  if (value === undefined) return;
  if (rule.min === undefined) {
    if (value === "") {
      throw new UsageError(
        `Invalid value for --${rule.flag}: it must not be empty`,
      );
    }
    options[rule.key] = value;
    return;
  }
  const { flag, min, max = Number.MAX_SAFE_INTEGER } = rule;
  try {
    // Digits only: "-1", "1.5", "1e6" and "" are refused although Number()
    // would read some of them.
    const number = /^\d+$/.test(value) ? Number(value) : NaN;
    options[rule.key] = checkInteger("parse", `--${flag}`, number, min, max);
  } catch (error) {
    const range = max === Number.MAX_SAFE_INTEGER
      ? `an integer of at least ${min}`
      : `an integer from ${min} to ${max}`;
    throw new UsageError(
      `Invalid value for --${flag}: expected ${range}, received '${value}'`,
      { cause: error },
    );
  }
}

/** Checks the value of a URL path flag (and the flag it needs) into `options`. */
function readUrlPath(
  rule: UrlPathFlag,
  values: Values,
  options: CliOptions,
): void {
  const path = stringOf(values, rule.flag);
  if (path === undefined) return;
  if (rule.needs !== undefined && values[rule.needs.flag] === undefined) {
    throw new UsageError(rule.needs.message);
  }
  if (!path.startsWith("/")) {
    throw new UsageError(
      `Invalid value for --${rule.flag}: expected a path starting with "/", received '${path}'`,
    );
  }
  options[rule.key] = path;
}

/** Rewords `node:util` parseArgs errors as one line that says what to do. */
function toUsageError(error: unknown): UsageError {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  // The quoted option, e.g. 'Option '-h, --help' does not take an argument':
  // name the long form.
  const quoted = /'(-[^']*)'/.exec(message)?.[1] ?? "";
  const option = quoted.split(/[ ,]+/).filter((part) => part.startsWith("-"))
    .pop() ?? quoted;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(
        `Unknown option '${option}': run with --help to see the options`,
        { cause: error },
      );
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (message.includes("does not take")) {
        return new UsageError(`Option '${option}' takes no value`, {
          cause: error,
        });
      }
      // "--port -1": parseArgs will not take a value that looks like a flag.
      return new UsageError(
        `Option '${option}' needs a value: write ${option} VALUE, or ${option}=VALUE if it starts with "-"`,
        { cause: error },
      );
    default:
      return new UsageError(message.split("\n")[0] ?? message, {
        cause: error,
      });
  }
}
