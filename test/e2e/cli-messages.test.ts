/**
 * Issue 12, messages: configuration errors through the command line and the plugin log, in process
 * through main(argv, env, io). Nothing here reaches the network: each run stops at the configuration.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { main, VERSION } from "../../src/app/cli-main.ts";
import { assertNoSecrets } from "./helpers.ts";
import { tempDirFor } from "../temp-dir.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  output: string;
}

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = { isTTY: false, write: (chunk: string | Uint8Array) => ((text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

async function run(argv: string[], env: Record<string, string | undefined>): Promise<Run> {
  const stdout = capture();
  const stderr = capture();
  const code = await main(argv, env, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text(), output: stdout.text() + stderr.text() };
}

/** A distinct value per secret setting, each long enough to be searched for by prefix. */
const SECRETS: Record<string, string> = {
  UNMS_API_TOKEN: "unmsTokenValue-7f3a9c",
  DROPBOX_APP_SECRET: "appSecretValue-b81d2e",
  DROPBOX_ACCESS_CODE: "accessCodeValue-c9e0f1",
  DROPBOX_REFRESH_TOKEN: "refreshTokenValue-d4a7b3",
  DROPBOX_ACCESS_TOKEN: "legacyTokenValue-e5c2a8",
};

/** Numeric, boolean, URL and folder settings a secret can be pasted into by mistake. */
const WRONG_SETTINGS = [
  "UNMS_URL",
  "DROPBOX_BASE_URL",
  "DROPBOX_CHUNK_MIB",
  "DROPBOX_CONNECTIONS",
  "MAX_DELETES",
  "ALLOW_MASS_DELETE",
  "MAX_RUN_MINUTES",
  "UNMS_TLS_INSECURE",
  "DROPBOX_FOLDER",
];

test("a secret pasted into a wrong numeric, URL or folder setting is never echoed; the setting is still named", async (t) => {
  const stateDir = await tempDirFor(t, "backup-sync-messages-");
  for (const [secretName, secret] of Object.entries(SECRETS)) {
    for (const wrong of WRONG_SETTINGS) {
      // A folder needs a character Dropbox refuses to be wrong at all.
      const value = wrong === "DROPBOX_FOLDER" ? `${secret}?` : secret;
      const env = { UNMS_URL: "https://uisp.example.com/nms", UNMS_API_TOKEN: "placeholder-unms", DROPBOX_APP_KEY: "appkey123", STATE_DIR: stateDir, ...{ [secretName]: secret }, [wrong]: value };
      const result = await run(["sync"], env);
      const what = `${secretName} in ${wrong}`;
      assert.equal(result.code, 2, `${what}: exit 2\n${result.output}`);
      assert.match(result.output, new RegExp(`\\b${wrong}\\b`), `${what}: the setting is named`);
      assertNoSecrets(result, [secret], what);
    }
  }
});

test("a token-shaped value in a wrong setting is not echoed even when no secret setting holds it", async (t) => {
  const stateDir = await tempDirFor(t, "backup-sync-messages-");
  const tokenLike = "sl.u.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
  const result = await run(["sync"], { UNMS_URL: "https://uisp.example.com/nms", UNMS_API_TOKEN: "placeholder-unms", DROPBOX_APP_KEY: "k", STATE_DIR: stateDir, MAX_DELETES: tokenLike });
  assert.equal(result.code, 2);
  assert.match(result.output, /MAX_DELETES is \(value not shown: it looks like a secret or token\): it must be a whole number of 0 or more/);
  assertNoSecrets(result, [tokenLike], "token-shaped MAX_DELETES");
  const plain = await run(["sync"], { UNMS_URL: "https://uisp.example.com/nms", UNMS_API_TOKEN: "placeholder-unms", DROPBOX_APP_KEY: "k", STATE_DIR: stateDir, MAX_DELETES: "ten" });
  assert.match(plain.output, /MAX_DELETES is "ten": it must be a whole number of 0 or more/, "an ordinary wrong value is still shown");
});

test("the plugin log never echoes a secret pasted into a wrong field, and names fields by their form labels", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-messages-");
  await mkdir(join(dir, "data"));
  await writeFile(join(dir, "ucrm.json"), JSON.stringify({ unmsLocalUrl: "http://127.0.0.1:1/nms/" }));
  const configSecrets = { unmsApiToken: "unmsTokenValue-7f3a9c", dropboxAppSecret: "appSecretValue-b81d2e", dropboxAccessCode: "accessCodeValue-c9e0f1", dropboxRefreshToken: "refreshTokenValue-d4a7b3", dropboxAccessToken: "legacyTokenValue-e5c2a8" };
  for (const [key, secret] of Object.entries(configSecrets)) {
    for (const wrong of ["maxDeletes", "chunkMiB", "dropboxConnections", "maxRunMinutes"]) {
      await writeFile(join(dir, "data", "config.json"), JSON.stringify({ unmsApiToken: "placeholder-unms", dropboxAppKey: "k", [key]: secret, [wrong]: secret }));
      await rm(join(dir, "data", "plugin.log"), { force: true });
      const result = await run(["ucrm", "--plugin-dir", dir], {});
      const log = await readFile(join(dir, "data", "plugin.log"), "utf8");
      const what = `${key} in ${wrong}`;
      assert.equal(result.code, 2, what);
      assertNoSecrets({ stdout: result.stdout + log, stderr: result.stderr }, [secret], `${what} (stdout and plugin.log)`);
      if (wrong === "maxDeletes") assert.match(log, /"Maximum deletions per run" \(maxDeletes\) is \(value not shown/, what);
    }
  }
});

test("every configuration problem is listed in one run, Dropbox's too, each naming its setting", async (t) => {
  const stateDir = await tempDirFor(t, "backup-sync-messages-");
  const result = await run(["sync"], { UNMS_URL: "uisp.example.com", MAX_DELETES: "-3", STATE_DIR: stateDir });
  assert.equal(result.code, 2);
  assert.match(result.output, /has 4 problems:/);
  for (const name of ["UNMS_URL", "UNMS_API_TOKEN", "MAX_DELETES", "DROPBOX_APP_KEY"]) assert.match(result.output, new RegExp(`- .*\\b${name}\\b`), name);
  assert.equal(result.output.match(/ERROR:/g)?.length, 1, "one error, not one per run of fixes");
  // The one permission list: the tool never reads file contents from Dropbox.
  assert.match(result.output, /files\.metadata\.read and files\.content\.write permissions/);
  assert.doesNotMatch(result.output, /files\.content\.read/);
});

test("--json on a configuration error: an error field and the exit code, not a failure with an empty name", async (t) => {
  const stateDir = await tempDirFor(t, "backup-sync-messages-");
  const result = await run(["sync", "--json"], { STATE_DIR: stateDir });
  assert.equal(result.code, 2);
  const last = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(last).sort(), ["error", "exitCode"]);
  assert.equal(last.exitCode, 2);
  assert.match(String(last.error), /UNMS_URL is not set/);
});

test("an unknown flag gets the closest known one; -V prints the version; -n and -q are accepted", async (t) => {
  const typo = await run(["sync", "--dryrun"], {});
  assert.equal(typo.code, 2);
  assert.equal(typo.stderr, "Usage error: Unknown option '--dryrun'; did you mean '--dry-run'?\nRun with --help to see the commands and options.\n");
  const version = await run(["-V"], {});
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `${VERSION}\n`);
  const stateDir = await tempDirFor(t, "backup-sync-messages-");
  // -n and -q parse (the run then stops at the missing settings, which --quiet still prints: an error).
  const quiet = await run(["sync", "-n", "-q"], { STATE_DIR: stateDir });
  assert.equal(quiet.code, 2);
  assert.match(quiet.output, /^ERROR: The configuration in the environment has/);
});

test("a DROPBOX_FOLDER name Dropbox would refuse stops the run with exit 2 before anything is contacted", async (t) => {
  const stateDir = await tempDirFor(t, "backup-sync-messages-");
  // Port 1 refuses connections: reaching UNMS or Dropbox would fail differently (exit 1).
  const env = { UNMS_URL: "http://127.0.0.1:1/nms", UNMS_API_TOKEN: "placeholder-unms", DROPBOX_APP_KEY: "k", DROPBOX_BASE_URL: "http://127.0.0.1:1", STATE_DIR: stateDir };
  const long = await run(["sync"], { ...env, DROPBOX_FOLDER: `uisp/${"x".repeat(256)}` });
  assert.equal(long.code, 2, long.output);
  assert.match(long.output, /DROPBOX_FOLDER is "uisp\/x{75}…": the folder name "x{40}…" is 256 characters long; Dropbox allows at most 255 per name/);
  const colon = await run(["sync"], { ...env, DROPBOX_FOLDER: "site:a/backups." });
  assert.equal(colon.code, 2);
  assert.match(colon.output, /DROPBOX_FOLDER is "site:a\/backups\.": the folder name "site:a" contains ":"/);
});
