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
      if (name === undefined) throw new CliArgsError(`Unknown option '${arg}'${didYouMean(arg, options)}`);
    } else {
      positionals.push(arg);
      continue;
    }
    const spec = Object.prototype.hasOwnProperty.call(options, name) ? options[name] : undefined;
    if (!spec) throw new CliArgsError(`Unknown option '--${name}'${didYouMean(`--${name}`, options)}`);
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

/** "; did you mean '--dry-run'?" for the closest known option (by edit distance), or "". */
function didYouMean(given: string, options: OptionSpec): string {
  const bare = given.replace(/^-+/, "").toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(options)) {
    const distance = editDistance(bare, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  // Close enough to be a typo: a third of the name, at least 1, at most 3 edits.
  const allowed = best ? Math.min(3, Math.max(1, Math.floor(best.name.length / 3))) : 0;
  return best && best.distance <= allowed ? `; did you mean '--${best.name}'?` : "";
}

/** Edit distance (optimal string alignment): insertions, deletions, substitutions and swaps of neighbours, one each. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}
