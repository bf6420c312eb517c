import { test } from "node:test";
import assert from "node:assert/strict";
import { CliArgsError, parseCliArgs, type OptionSpec } from "../../../src/app/parse-cli-args.ts";

const options: OptionSpec = {
  "dry-run": { type: "boolean" },
  "plugin-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
};

test("flags, string options (spaced and with =), short flags and positionals", () => {
  assert.deepEqual(parseCliArgs(["ucrm", "--plugin-dir", "/p", "--dry-run"], options), {
    values: { "plugin-dir": "/p", "dry-run": true },
    positionals: ["ucrm"],
  });
  assert.deepEqual(parseCliArgs(["--plugin-dir=/a=b", "-h", "sync"], options), {
    values: { "plugin-dir": "/a=b", help: true },
    positionals: ["sync"],
  });
  assert.deepEqual(parseCliArgs(["sync", "--", "--dry-run"], options), { values: {}, positionals: ["sync", "--dry-run"] });
});

test("unknown options, missing values and values on flags are errors naming the option", () => {
  assert.throws(() => parseCliArgs(["sync", "--no-such-flag"], options), (e) => e instanceof CliArgsError && /'--no-such-flag'/.test(e.message));
  assert.throws(() => parseCliArgs(["-x"], options), /Unknown option '-x'/);
  assert.throws(() => parseCliArgs(["--plugin-dir"], options), /'--plugin-dir <value>' needs a value/);
  assert.throws(() => parseCliArgs(["--plugin-dir", "--dry-run"], options), /needs a value/);
  assert.throws(() => parseCliArgs(["--dry-run=yes"], options), /'--dry-run' does not take a value/);
  assert.throws(() => parseCliArgs(["--constructor"], options), /Unknown option '--constructor'/);
});

test("an unknown option close to a known one gets a suggestion; a far one does not", () => {
  const withDryRun: OptionSpec = { ...options, json: { type: "boolean" }, "allow-mass-delete": { type: "boolean" } };
  assert.throws(() => parseCliArgs(["sync", "--dryrun"], withDryRun), /^CliArgsError: Unknown option '--dryrun'; did you mean '--dry-run'\?$/);
  assert.throws(() => parseCliArgs(["sync", "--dry-rnu"], withDryRun), /did you mean '--dry-run'\?/);
  assert.throws(() => parseCliArgs(["sync", "--jsno"], withDryRun), /did you mean '--json'\?/);
  assert.throws(() => parseCliArgs(["sync", "--allow-mass-deletes"], withDryRun), /did you mean '--allow-mass-delete'\?/);
  assert.throws(() => parseCliArgs(["sync", "--verbose"], withDryRun), (e) => e instanceof CliArgsError && e.message === "Unknown option '--verbose'");
});

test("edit distance counts insertions, deletions, substitutions and swapped neighbours", async () => {
  const { editDistance } = await import("../../../src/app/parse-cli-args.ts");
  assert.equal(editDistance("dryrun", "dry-run"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("same", "same"), 0);
  assert.equal(editDistance("jsno", "json"), 1);
});
