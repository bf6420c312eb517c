/**
 * What a nightly run that finds nothing to do must not load (issue 14, the no-op run): the age
 * package without ENCRYPT_TO, the Dropbox SDK when the store only lists. Each case runs in a fresh
 * Node process whose module resolutions are recorded, since this process has loaded both already.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = new URL("../../../", import.meta.url);

/** Registered in the child: appends every bare specifier it resolves to RESOLVED_FILE. */
const RECORDER = `import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(\`
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  if (!/^(node:|[./]|file:|data:)/.test(specifier)) appendFileSync(process.env.RESOLVED_FILE, specifier + "\\\\n");
  return next(specifier, context);
}\`));
`;

/** The packages `script` (an ES module run from the repository root) resolves. */
async function packagesResolved(script: string, env: Record<string, string> = {}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "lazy-loading-"));
  try {
    const resolvedFile = join(dir, "resolved.txt");
    await writeFile(resolvedFile, "");
    await writeFile(join(dir, "recorder.mjs"), RECORDER);
    const child = spawn(process.execPath, ["--import", pathToFileURL(join(dir, "recorder.mjs")).href, "--import", "tsx", "--input-type=module", "-e", script], {
      cwd: new URL(root).pathname,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, RESOLVED_FILE: resolvedFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    const code = await new Promise<number | null>((done) => child.on("close", done));
    assert.equal(code, 0, `the child failed: ${stderr}`);
    return [...new Set((await readFile(resolvedFile, "utf8")).split("\n").filter((line) => line !== ""))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const LOAD_SETTINGS = `
import { EnvConfigStore } from "./src/adapters/config/env-config-store.ts";
const settings = await new EnvConfigStore(process.env, { defaultStateDir: process.env.STATE }).load();
if (!settings.unmsUrl) throw new Error("no settings");
`;

test("settings without ENCRYPT_TO do not load the age package; with it they do (its recipient check)", async () => {
  const env = { UNMS_URL: "https://uisp.example.com/nms", UNMS_API_TOKEN: "unms-token-0001", TARGET_DIR: tmpdir(), STATE: join(tmpdir(), "never-created-state") };
  const plain = await packagesResolved(LOAD_SETTINGS, env);
  assert.ok(!plain.includes("age-encryption"), `resolved: ${plain.join(", ")}`);
  // Public key from the age specification's test vectors: not a secret.
  const encrypting = await packagesResolved(LOAD_SETTINGS, { ...env, ENCRYPT_TO: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p" });
  assert.ok(encrypting.includes("age-encryption"), `resolved: ${encrypting.join(", ")}`);
});

test("listing a Dropbox folder does not load the SDK; deleting a file does", async () => {
  // A stand-in for Dropbox's documented answers: list_folder's ListFolderResult, delete_v2's metadata.
  const script = (action: string) => `
import { DropboxBackupStore } from "./src/adapters/dropbox/dropbox-backup-store.ts";
const answers = {
  "/2/files/list_folder": { entries: [{ ".tag": "file", name: "a.unms", path_display: "/backups/a.unms", size: 3 }], has_more: false, cursor: "c1" },
  "/2/files/delete_v2": { metadata: { ".tag": "file", name: "a.unms", path_display: "/backups/a.unms", size: 3 } },
};
const fetch = async (input) => {
  const answer = answers[new URL(String(input)).pathname];
  return answer ? new Response(JSON.stringify(answer), { status: 200, headers: { "content-type": "application/json" } }) : new Response("not found", { status: 404 });
};
const store = new DropboxBackupStore({ tokens: { accessToken: async () => "token", refreshAfterRejection: async () => "token" }, fetch });
const files = await store.list("backups");
if (files.length !== 1 || files[0].name !== "a.unms") throw new Error("unexpected listing " + JSON.stringify(files));
${action}
`;
  const listing = await packagesResolved(script(""));
  assert.ok(!listing.includes("dropbox"), `resolved: ${listing.join(", ")}`);
  const deleting = await packagesResolved(script(`await store.remove("backups", "a.unms");`));
  assert.ok(deleting.includes("dropbox"), `resolved: ${deleting.join(", ")}`);
});
