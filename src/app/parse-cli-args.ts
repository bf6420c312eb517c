/**
 * The command line's options and positionals. Not `util.parseArgs`: that exists only from Node
 * 16.17 / 18.3, and the bundle must start on any Node >= 16.14 (the UCRM containers' own Node).
 * Strict like parseArgs: an unknown option, a missing value or a value given to a flag is an error.
 */

export type OptionSpec = Readonly<Record<string, { type: "boolean" | "string"; short?: string }>>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export class CliArgsError extends Error {
  override name = "CliArgsError";
}

export function parseCliArgs(args: readonly string[], options: OptionSpec): ParsedArgs {
  const values: ParsedArgs["values"] = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(options).flatMap(([name, spec]) => (spec.short ? [[spec.short, name] as const] : [])));

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else if (/^-[^-]$/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (name === undefined) throw new CliArgsError(`Unknown option '${arg}'`);
    } else {
      positionals.push(arg);
      continue;
    }
    const spec = Object.prototype.hasOwnProperty.call(options, name) ? options[name] : undefined;
    if (!spec) throw new CliArgsError(`Unknown option '--${name}'`);
    if (spec.type === "boolean") {
      if (inline !== undefined) throw new CliArgsError(`Option '--${name}' does not take a value`);
      values[name] = true;
      continue;
    }
    const value = inline ?? args[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith("-"))) {
      throw new CliArgsError(`Option '--${name} <value>' needs a value`);
    }
    if (inline === undefined) i++;
    values[name] = value;
  }
  return { values, positionals };
}
