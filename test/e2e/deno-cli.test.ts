/**
 * `deno run -A src/app/cli.ts sync` must behave as `node dist/cli.mjs sync`: the same scenario
 * (authorization needed, code exchange, rerun, mirrored deletion) runs through both on identical
 * fresh loopback fakes, and every exit code and JSON summary must match.
 *
 * Needs `npm run build` first (npm test does it) and the npm package `deno` (node_modules/.bin/deno).
 * Deno reads the packages from node_modules (deno.json nodeModulesDir "manual") with --cached-only
 * and an empty DENO_DIR, so the run proves nothing is downloaded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeDropbox } from "../../src/testing/fakes/dropbox.ts";
import { startLoopbackServer } from "../../src/testing/fakes/loopback.ts";
import { FakeUnms } from "../../src/testing/fakes/unms.ts";
import { runProcess } from "./process.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const denoBin = join(repoRoot, "node_modules", ".bin", process.platform === "win32" ? "deno.cmd" : "deno");
const nodeBundle = join(repoRoot, "dist", "cli.mjs");
const KiB = 1024;
const APP_KEY = "e2eappkey";

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Summary {
  uploaded: string[];
  skipped: string[];
  deleted: string[];
  failed: { name: string; error: string }[];
  exitCode: number;
  authorizationUrl?: string;
}

interface ScenarioResult {
  runs: { title: string; result: RunResult; summary: Summary }[];
  dropboxFiles: string[];
  secrets: string[];
}

type Runtime = "deno" | "node";

/**
 * Lines Deno itself prints: the deprecation notice for deno.json's `experimentalDecorators` (legacy
 * decorators, kept on purpose) and Node's DEP0040, which Deno's node compatibility emits when the
 * Dropbox SDK loads node-fetch (Node 20 stays silent; Node 22 would print it too).
 */
const DENO_RUNTIME_WARNINGS = [/^Warning experimentalDecorators compiler option is deprecated/, /^\(node:\d+\) \[DEP0040\] DeprecationWarning: The `punycode` module/];

function programLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line !== "" && !DENO_RUNTIME_WARNINGS.some((warning) => warning.test(line)));
}

/** Wall-clock figures differ between runs (formatDuration: "830 ms", "1.8 s", "2 min 3 s", "1 h 2 min"). */
function withoutTimings(output: string): string {
  return output
    .replace(/\b(?:\d+ h )?(?:\d+ min )?\d+(?:\.\d+)? (?:ms|s|min)\b/g, "N time")
    .replace(/\b[\d.]+ (B|KiB|MiB|GiB)\/s\b/g, "N/s")
    .replace(/"durationMs":\d+/g, '"durationMs":N')
    // The run record's times differ between the two runtimes' runs.
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>");
}

function commandFor(runtime: Runtime, args: string[]): [string, string[]] {
  return runtime === "deno"
    ? [denoBin, ["run", "--cached-only", "-A", join(repoRoot, "src", "app", "cli.ts"), ...args]]
    : [process.execPath, [nodeBundle, ...args]];
}

function run(runtime: Runtime, args: string[], env: Record<string, string>, cwd: string): Promise<RunResult> {
  const [command, argv] = commandFor(runtime, args);
  return runProcess(command, argv, { env, cwd, timeoutMs: 60_000 });
}

function lastJsonLine(result: RunResult, context: string): Summary {
  const line = result.stdout.trimEnd().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as Summary;
  } catch {
    assert.fail(`${context}: the last stdout line is not the JSON summary.\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** The whole scenario on fresh fakes; identical inputs for both runtimes except random secrets. */
async function scenario(runtime: Runtime): Promise<ScenarioResult> {
  const unmsApiToken = `e2e-unms-${Math.random().toString(36).slice(2)}`;
  const unms = new FakeUnms({ apiToken: unmsApiToken, timezone: "Europe/Prague" });
  const dropbox = new FakeDropbox({ appKey: APP_KEY });
  const first = unms.addBackup({ id: "11111111-1111-4111-8111-111111111111", createdAt: "2024-03-01T02:00:00.000Z", size: 96 * KiB });
  unms.addBackup({ id: "22222222-2222-4222-8222-222222222222", createdAt: "2024-03-02T02:00:00.000Z", size: 200 * KiB });
  unms.addBackup({ id: "33333333-3333-4333-8333-333333333333", createdAt: "2024-03-03T02:00:00.000Z", size: 64 * KiB, state: "in-progress" });
  dropbox.putFile("/UNMS backups/notes.txt", "the admin's own file\n");

  const unmsServer = await startLoopbackServer(unms.handlers);
  const dropboxServer = await startLoopbackServer(dropbox.handlers);
  const work = await mkdtemp(join(tmpdir(), `backup-sync-${runtime}-e2e-`));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: work,
    DENO_DIR: join(work, "deno-dir"),
    NO_COLOR: "1",
    UNMS_URL: `${unmsServer.url}/nms`,
    UNMS_API_TOKEN: unmsApiToken,
    DROPBOX_APP_KEY: APP_KEY,
    DROPBOX_APP_SECRET: dropbox.appSecret,
    DROPBOX_FOLDER: "UNMS backups",
    DROPBOX_BASE_URL: dropboxServer.url,
    STATE_DIR: join(work, "state"),
    // The fixtures' backups date from 2024: a ten-year limit keeps staleness out of this scenario.
    MAX_BACKUP_AGE_HOURS: "87600",
  };
  const runs: ScenarioResult["runs"] = [];
  const step = async (title: string, extraEnv: Record<string, string> = {}) => {
    const result = await run(runtime, ["sync", "--json"], { ...env, ...extraEnv }, work);
    runs.push({ title, result, summary: lastJsonLine(result, `${runtime}: ${title}`) });
  };
  try {
    await step("not authorized");
    await step("code exchange and first sync", { DROPBOX_ACCESS_CODE: ` ${dropbox.issueAuthorizationCode({ clientId: APP_KEY })}\n` });
    await step("rerun");
    unms.removeBackup(first.id);
    await step("mirrored deletion");
    return {
      runs,
      dropboxFiles: dropbox.listFiles().map((f) => f.path).sort(),
      secrets: [...dropbox.secretsIssued(), unmsApiToken],
    };
  } finally {
    await unmsServer.close();
    await dropboxServer.close();
    await rm(work, { recursive: true, force: true });
  }
}

test("deno run src/app/cli.ts sync behaves as node dist/cli.mjs sync", { timeout: 120_000 }, async () => {
  assert.ok(existsSync(nodeBundle), `${nodeBundle} is missing: run \`npm run build\` first.`);
  assert.ok(existsSync(denoBin), `${denoBin} is missing: the npm package "deno" (a devDependency) must be installed with \`npm ci\`.`);

  const [deno, node] = await Promise.all([scenario("deno"), scenario("node")]);

  for (const [runtime, result] of [["deno", deno], ["node", node]] as const) {
    const [waiting, firstSync, rerun, deletion] = result.runs.map((r) => r.summary);
    const describe = (i: number) => `${runtime} ${result.runs[i]!.title}: ${result.runs[i]!.result.stdout}${result.runs[i]!.result.stderr}`;

    assert.equal(result.runs[0]!.result.code, 3, describe(0));
    assert.equal(waiting!.exitCode, 3);
    assert.match(waiting!.authorizationUrl ?? "", /^https:\/\/www\.dropbox\.com\/oauth2\/authorize\?/, describe(0));
    assert.ok(result.runs[0]!.result.stdout.includes(waiting!.authorizationUrl!) || result.runs[0]!.result.stderr.includes(waiting!.authorizationUrl!));

    assert.equal(result.runs[1]!.result.code, 0, describe(1));
    assert.equal(firstSync!.uploaded.length, 2, describe(1));
    assert.deepEqual(firstSync!.deleted, []);

    assert.equal(result.runs[2]!.result.code, 0, describe(2));
    assert.deepEqual(rerun!.uploaded, [], describe(2));
    assert.deepEqual([...rerun!.skipped].sort(), [...firstSync!.uploaded].sort());

    assert.equal(result.runs[3]!.result.code, 0, describe(3));
    assert.equal(deletion!.deleted.length, 1, describe(3));
    assert.ok(result.dropboxFiles.includes("/UNMS backups/notes.txt"), "the admin's own file must stay");

    const output = result.runs.map((r) => r.result.stdout + r.result.stderr).join("\n");
    for (const secret of result.secrets) assert.ok(!output.includes(secret), `${runtime} printed a secret (${secret.length} characters)`);
  }

  // Same behaviour: exit codes, names, the URL (no PKCE with an app secret, so it is the same).
  const comparable = (r: ScenarioResult) =>
    r.runs.map(({ title, result, summary }) => ({
      title,
      code: result.code,
      uploaded: [...summary.uploaded].sort(),
      skipped: [...summary.skipped].sort(),
      deleted: [...summary.deleted].sort(),
      failed: summary.failed,
      authorizationUrl: summary.authorizationUrl,
    }));
  assert.deepEqual(comparable(deno), comparable(node));
  assert.deepEqual(deno.dropboxFiles, node.dropboxFiles);

  // Same output, line for line, once timings are blanked out. Deno's own runtime warnings on stderr
  // (see DENO_RUNTIME_WARNINGS) are not the program's output.
  for (let i = 0; i < node.runs.length; i++) {
    const title = node.runs[i]!.title;
    assert.equal(withoutTimings(deno.runs[i]!.result.stdout), withoutTimings(node.runs[i]!.result.stdout), `stdout of "${title}"`);
    assert.deepEqual(programLines(deno.runs[i]!.result.stderr).map(withoutTimings), programLines(node.runs[i]!.result.stderr).map(withoutTimings), `stderr of "${title}"`);
  }
});
