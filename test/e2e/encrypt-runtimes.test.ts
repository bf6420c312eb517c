/**
 * Encryption under `deno run src/app/cli.ts` (the TypeScript sources, not the bundle), syncing
 * FakeUnms into a local folder with ENCRYPT_TO; the real `age -d` must give back the exact bytes.
 * Spawned on purpose: the runtime is the subject. The bundle's encryption under Node 16, Node 18,
 * this machine's Node, Deno and Bun is proven by the same start that proves the plugin runs there
 * (plugin-runtimes.test.ts: encryptTo on, every copy decrypted with `age -d`, exact sizes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLoopbackServer } from "../../src/testing/fakes/loopback.ts";
import { FakeUnms, guid } from "../../src/testing/fakes/unms.ts";
import { runProcess } from "./process.ts";
import { repoRoot } from "./helpers.ts";

const deno = realpathSync(join(repoRoot, "node_modules", ".bin", "deno"));
const matrix: { label: string; command: string[] }[] = [
  { label: "Deno", command: [deno, "run", "--cached-only", "-A", join(repoRoot, "src", "app", "cli.ts")] },
];

for (const runtime of matrix) {
  test(`${runtime.label}: ENCRYPT_TO copies decrypt with the real age to the exact bytes`, { timeout: 120_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "encrypt-runtime-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, "key.txt");
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "pipe" });
    const recipient = execFileSync("age-keygen", ["-y", keyFile], { encoding: "utf8" }).trim();
    const unms = new FakeUnms({ apiToken: `unms-api-${Math.random().toString(36).slice(2)}` });
    const backup = unms.addBackup({ id: guid(`13-runtime-${runtime.label}`), createdAt: "2026-11-30T01:00:00Z", size: 3 * 65536 + 5 });
    const server = await startLoopbackServer(unms.handlers);
    t.after(() => server.close());
    const target = join(dir, "copies");
    const [command, ...args] = runtime.command;
    const run = await runProcess(command!, [...args, "sync"], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: dir,
        DENO_DIR: join(dir, "deno-dir"),
        UNMS_URL: `${server.url}/nms`,
        UNMS_API_TOKEN: unms.apiToken,
        TARGET_DIR: target,
        STATE_DIR: join(dir, "state"),
        ENCRYPT_TO: recipient,
        // The fixture is dated: staleness (MAX_BACKUP_AGE_HOURS) is not what this test is about.
        MAX_BACKUP_AGE_HOURS: "87600",
      },
      cwd: repoRoot,
      timeoutMs: 100_000,
    });
    const why = `exit ${run.code}\n${run.stdout}${run.stderr}`;
    assert.equal(run.code, 0, why);
    const name = `unms-backup-20261130-0200_${backup.id}.unms.age`;
    assert.deepEqual(readdirSync(target), [name], why);
    const plaintext = execFileSync("age", ["-d", "-i", keyFile, join(target, name)]);
    assert.ok(plaintext.equals(Buffer.from(unms.expectedBytes(backup.id))), `${runtime.label}: age -d gave other bytes`);
    assert.equal(readFileSync(join(target, name)).length, 168 + 16 + plaintext.length + 16 * 4, "exact ciphertext size");
    assert.doesNotMatch(run.stdout + run.stderr, /ExperimentalWarning|X25519/, "old runtimes must not print warnings the admin cannot act on");
  });
}
