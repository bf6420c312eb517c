/**
 * The e2e harness: FakeUnms and FakeDropbox on loopback ports, the command line run with a chosen
 * environment and its own STATE_DIR, and after EVERY run the check that no secret (nor a 12-character
 * prefix of one) reached stdout or stderr.
 *
 * By default a run goes in process through the real `main(argv, env, io)` (the code dist/cli.mjs
 * runs), with retry back-off that does not sleep: the same HTTP on the same loopback fakes, without a
 * Node start per run. `spawn: true` runs the built dist/cli.mjs as a child process instead, for the
 * smoke tests of the bundle itself. The child runs asynchronously: the fakes live in this process,
 * so a blocking spawnSync would deadlock them.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { RequestHandler } from "msw";
import { FakeDropbox, type FakeDropboxOptions } from "../../src/testing/fakes/dropbox.ts";
import { startLoopbackServer, type LoopbackServer } from "../../src/testing/fakes/loopback.ts";
import { FakeUnms } from "../../src/testing/fakes/unms.ts";
import { RUN_LOCK_FILE } from "../../src/adapters/lock/run-lock.ts";
import { PRIVATE_STATE_FILE } from "../../src/adapters/config/private-state-file.ts";
import { runProcess } from "./process.ts";
import { main } from "../../src/app/cli-main.ts";

export const MiB = 1024 * 1024;
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const cliPath = join(repoRoot, "dist", "cli.mjs");

/** Shorter than this, a secret is searched for whole; longer, its first this-many characters are. */
export const SECRET_PREFIX_CHARS = 12;
const RUN_TIMEOUT_MS = 30_000;

/** Environment variables whose values are secrets, whatever a test sets them to. */
const SECRET_VARIABLES = ["UNMS_API_TOKEN", "DROPBOX_APP_SECRET", "DROPBOX_ACCESS_CODE", "DROPBOX_REFRESH_TOKEN", "DROPBOX_ACCESS_TOKEN"];

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for message assertions that do not care where a line went. */
  output: string;
}

export interface HarnessOptions {
  /** NMS time zone; null makes the settings endpoint fail. Default Europe/Prague. */
  timezone?: string | null;
  /** Options for FakeDropbox (app key/secret default to generated values). */
  dropbox?: FakeDropboxOptions;
  /** Serve FakeUnms over HTTPS with this key and certificate (UNMS_URL becomes https://127.0.0.1:PORT/nms). */
  unmsTls?: { key: string; cert: string };
  /** Run the built dist/cli.mjs as a child process (default: in process through main()). */
  spawn?: boolean;
}

export interface Harness {
  readonly unms: FakeUnms;
  readonly dropbox: FakeDropbox;
  readonly unmsServer: LoopbackServer;
  readonly dropboxServer: LoopbackServer;
  /** Temp folder of this harness (removed by close). */
  readonly root: string;
  /** A STATE_DIR that does not exist before the first run, so the CLI creates it. */
  readonly stateDir: string;
  readonly unmsApiToken: string;
  /** UNMS_URL, UNMS_API_TOKEN, DROPBOX_APP_KEY, DROPBOX_APP_SECRET, DROPBOX_BASE_URL, STATE_DIR, ... */
  readonly baseEnv: Record<string, string>;
  /** Handlers served before FakeUnms's own (e.g. one backup whose download always breaks). */
  readonly unmsOverrides: RequestHandler[];
  /** Handlers served before FakeDropbox's own (e.g. an append held unanswered until a signal). */
  readonly dropboxOverrides: RequestHandler[];
  /** Values that must never be printed, beside what the fakes issued and the env's secret variables. */
  readonly extraSecrets: string[];
  /**
   * Runs `node dist/cli.mjs ...args` with baseEnv overlaid by `env` (undefined removes a variable),
   * then asserts that no secret reached its output.
   */
  run(args: string[], env?: Record<string, string | undefined>): Promise<CliRun>;
  /** The wall clock of in-process runs (staleness, run record); default the real one. */
  now?: () => number;
  /** Creates the run lock as if a live process (default: this test process) held it. */
  holdLock(pid?: number): Promise<string>;
  /** The private state file the CLI keeps in STATE_DIR, parsed (undefined while absent). */
  privateState(): Record<string, string> | undefined;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  if (options.spawn) assert.ok(existsSync(cliPath), `${cliPath} is missing: run \`npm run build\` before the e2e tests (npm test does).`);
  const unmsApiToken = `unms-api-${randomText(24)}`;
  const unms = new FakeUnms({ apiToken: unmsApiToken, ...(options.timezone === undefined ? {} : { timezone: options.timezone }) });
  const dropbox = new FakeDropbox({ appKey: `appkey${randomText(9)}`, ...options.dropbox });
  const unmsOverrides: RequestHandler[] = [];
  const dropboxOverrides: RequestHandler[] = [];
  const unmsServer = await startLoopbackServer(() => [...unmsOverrides, ...unms.handlers], options.unmsTls ? { tls: options.unmsTls } : {});
  const dropboxServer = await startLoopbackServer(() => [...dropboxOverrides, ...dropbox.handlers]);
  const root = await mkdtemp(join(tmpdir(), "backup-sync-e2e-"));
  const stateDir = join(root, "state");
  const extraSecrets: string[] = [];

  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: root,
    XDG_CONFIG_HOME: join(root, "xdg"),
    UNMS_URL: `${unmsServer.url}/nms`,
    UNMS_API_TOKEN: unmsApiToken,
    DROPBOX_APP_KEY: dropbox.appKey,
    DROPBOX_APP_SECRET: dropbox.appSecret,
    DROPBOX_BASE_URL: dropboxServer.url,
    DROPBOX_FOLDER: "Backups",
    DROPBOX_CHUNK_MIB: "4",
    STATE_DIR: stateDir,
    // The fixtures' backups date from 2024: a ten-year limit keeps staleness out of tests about other things.
    MAX_BACKUP_AGE_HOURS: "87600",
  };

  const privateState = (): Record<string, string> | undefined => {
    const path = join(stateDir, PRIVATE_STATE_FILE);
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, string>) : undefined;
  };

  const harness: Harness = {
    unms,
    dropbox,
    unmsServer,
    dropboxServer,
    root,
    stateDir,
    unmsApiToken,
    baseEnv,
    unmsOverrides,
    dropboxOverrides,
    extraSecrets,
    privateState,
    async run(args, env = {}) {
      const merged: Record<string, string> = { ...baseEnv };
      for (const [name, value] of Object.entries(env)) {
        if (value === undefined) delete merged[name];
        else merged[name] = value;
      }
      const result = options.spawn ? await runCli(args, merged) : await runInProcess(args, merged, harness.now);
      const secrets = [
        ...dropbox.secretsIssued(),
        dropbox.appSecret,
        unmsApiToken,
        ...extraSecrets,
        ...SECRET_VARIABLES.map((name) => merged[name]).filter((v): v is string => !!v),
        // What the CLI obtained and keeps (refresh token, PKCE verifier) is secret too.
        ...[privateState()?.refreshToken, privateState()?.pkceVerifier].filter((v): v is string => !!v),
      ];
      assertNoSecrets(result, secrets, `node dist/cli.mjs ${args.join(" ")}`);
      return result;
    },
    async holdLock(pid = process.pid) {
      const { mkdir, writeFile } = await import("node:fs/promises");
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      const path = join(stateDir, RUN_LOCK_FILE);
      const owner = { pid, startedAt: new Date().toISOString(), hostname: hostname(), token: "held-by-the-e2e-test" };
      await writeFile(path, `${JSON.stringify(owner)}\n`);
      return path;
    },
    async close() {
      await unmsServer.close();
      await dropboxServer.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Collects what main() writes; not a terminal, as stdout of a spawned CLI is a pipe. */
function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = { isTTY: false, write: (chunk: string | Uint8Array) => ((text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

/** Back-off waits are skipped; the wait each retry would take is still computed and reported. */
const noSleep = (_ms: number, signal?: AbortSignal): Promise<void> => (signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve());

/** `main(args, env, io)` in this process, as dist/cli.mjs would run it, with back-off that does not sleep. */
export async function runInProcess(args: string[], env: Record<string, string>, now?: () => number): Promise<CliRun> {
  const stdout = capture();
  const stderr = capture();
  const code = await main(args, env, { stdout: stdout.stream, stderr: stderr.stream, sleep: noSleep, ...(now ? { now } : {}) });
  return { code, stdout: stdout.text(), stderr: stderr.text(), output: `${stdout.text()}${stderr.text()}` };
}

async function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const { code, stdout, stderr } = await runProcess(process.execPath, [cliPath, ...args], { env, timeoutMs: RUN_TIMEOUT_MS });
  return { code, stdout, stderr, output: `${stdout}${stderr}` };
}

/**
 * Fails when any secret, or the first SECRET_PREFIX_CHARS characters of one, appears in the output.
 * The failure message describes the secret by position and length only, never by value.
 */
export function assertNoSecrets(run: Pick<CliRun, "stdout" | "stderr">, secrets: readonly string[], what: string): void {
  const unique = [...new Set(secrets.filter((s) => s.length > 0))];
  for (const [stream, text] of [
    ["stdout", run.stdout],
    ["stderr", run.stderr],
  ] as const) {
    unique.forEach((secret, index) => {
      const needle = secret.length > SECRET_PREFIX_CHARS ? secret.slice(0, SECRET_PREFIX_CHARS) : secret;
      const at = text.indexOf(needle);
      assert.ok(
        at < 0,
        `${what}: secret #${index} (${secret.length} characters) or its first ${needle.length} characters appear in ${stream} at offset ${at}`,
      );
    });
  }
}

/** The last non-empty stdout line, parsed as JSON (the `--json` summary). */
export function lastJsonLine(run: CliRun): JsonSummary {
  const lines = run.stdout.split("\n").filter((line) => line.trim() !== "");
  const last = lines.at(-1);
  assert.ok(last !== undefined, "stdout is empty; expected the JSON summary as its last line");
  try {
    return JSON.parse(last) as JsonSummary;
  } catch {
    assert.fail(`the last stdout line is not JSON: ${last}`);
  }
}

export interface JsonSummary {
  uploaded: string[];
  skipped: string[];
  deleted: string[];
  failed: { name: string; error: string }[];
  guarded: string[];
  bytesUploaded: number;
  uploads: { name: string; bytes: number; durationMs: number }[];
  [key: string]: unknown;
}

/** Why a run ended as it did, for assertion messages. */
export function explain(run: CliRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;
}

/** The Dropbox path of a file in a folder of the app folder. */
export function inFolder(folder: string, name: string): string {
  return folder ? `/${folder}/${name}` : `/${name}`;
}

function randomText(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let text = "";
  for (let i = 0; i < length; i++) text += alphabet[Math.floor(Math.random() * alphabet.length)];
  return text;
}
