/**
 * The UCRM run in process (no PHP, no Dropbox: a local target folder), for the one-shot
 * "Allow mass deletion" checkbox and the no-overlap guard a reset NMS meets.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { runUcrmPlugin } from "../../../src/app/ucrm-main.ts";
import { FakeUnms } from "../../../src/testing/fakes/unms.ts";
import { startLoopbackServer, type LoopbackServer } from "../../../src/testing/fakes/loopback.ts";

const TOKEN = "one-shot-unms-token-5d1e";
const unms = new FakeUnms({ apiToken: TOKEN, timezone: "UTC" });
let server: LoopbackServer;
before(async () => {
  server = await startLoopbackServer(unms.handlers);
});
after(() => server.close());

const oldName = (n: number) => `unms-backup-20230101-0000_0a0a0a0a-0000-4000-8000-${n.toString(16).padStart(12, "0")}.unms`;

async function plugin(config: Record<string, unknown>) {
  const dir = await mkdtemp(join(tmpdir(), "ucrm-one-shot-"));
  const target = join(dir, "target");
  await mkdir(join(dir, "data"), { recursive: true });
  await mkdir(target);
  await writeFile(join(dir, "ucrm.json"), JSON.stringify({ unmsLocalUrl: `${server.url}/nms/` }));
  await writeFile(join(dir, "data", "config.json"), JSON.stringify({ unmsApiToken: TOKEN, targetDir: target, dropboxFolder: "", maxBackupAgeHours: 87600, ...config }, null, 4));
  let output = "";
  const stdout = new Writable({ write: (chunk, _enc, done) => ((output += String(chunk)), done()) });
  return {
    dir,
    target,
    run: async () => {
      output = "";
      const code = await runUcrmPlugin({ pluginDir: dir, stdout });
      return { code, output };
    },
    config: async () => JSON.parse(await readFile(join(dir, "data", "config.json"), "utf8")) as Record<string, unknown>,
    setConfig: async (patch: Record<string, unknown>) => {
      const current = JSON.parse(await readFile(join(dir, "data", "config.json"), "utf8"));
      await writeFile(join(dir, "data", "config.json"), JSON.stringify({ ...current, ...patch }, null, 4));
    },
    log: () => readFile(join(dir, "data", "plugin.log"), "utf8"),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

test("UCRM: a reset NMS with one new backup deletes none of ten old copies, and the ticked checkbox is cleared", async (t) => {
  for (const b of unms.backups()) unms.removeBackup(b.id);
  const fresh = unms.addBackup({ size: 70_000 });
  const p = await plugin({ allowMassDelete: true, unrelated: "kept" });
  t.after(() => p.close());
  for (let n = 1; n <= 10; n++) await writeFile(join(p.target, oldName(n)), "old copy");

  const { code, output } = await p.run();
  assert.equal(code, 0, output);
  const files = await readdir(p.target);
  assert.equal(files.length, 11, "ten old copies and the new one");
  assert.ok(files.some((f) => f.includes(fresh.id)));
  assert.match(output, /None of the 1 successful backup\(s\) UNMS lists matches any of the 10 backup file\(s\) in the folder, so none were deleted \(was UNMS reinstalled, or does this folder hold another NMS's backups\?\)/);
  assert.match(output, /"Allow mass deletion" \(allowMassDelete\) was used by this run and has been cleared \(set to false\) in .*config\.json/);
  const config = await p.config();
  assert.equal(config.allowMassDelete, false);
  assert.equal(config.unrelated, "kept");
  assert.match(await p.log(), /has been cleared \(set to false\)/);

  // The next run, unticked, says nothing about the checkbox and still deletes nothing.
  const again = await p.run();
  assert.equal(again.code, 0, again.output);
  assert.doesNotMatch(again.output, /allowMassDelete/);
  assert.equal((await readdir(p.target)).length, 11);
});

test("UCRM: the checkbox still lifts the mass-delete guard for the one run that has it, then is cleared", async (t) => {
  for (const b of unms.backups()) unms.removeBackup(b.id);
  const kept = unms.addBackup({ id: "0a0a0a0a-0000-4000-8000-000000000001", size: 8 });
  const p = await plugin({});
  t.after(() => p.close());
  for (let n = 1; n <= 6; n++) await writeFile(join(p.target, oldName(n)), "old copy");

  const guarded = await p.run();
  assert.equal(guarded.code, 0, guarded.output);
  assert.match(guarded.output, /5 of 6 backup file\(s\) would be deleted, more than the allowed 3/);
  assert.equal((await readdir(p.target)).length, 6);
  assert.equal((await p.config()).allowMassDelete, undefined, "nothing is written when the box was not ticked");

  await p.setConfig({ allowMassDelete: true });
  const lifted = await p.run();
  assert.equal(lifted.code, 0, lifted.output);
  assert.deepEqual(await readdir(p.target), [oldName(1)]);
  assert.ok(oldName(1).includes(kept.id));
  assert.equal((await p.config()).allowMassDelete, false);
  assert.match(lifted.output, /has been cleared \(set to false\)/);
});

test("UCRM: a dry run leaves the checkbox ticked", async (t) => {
  for (const b of unms.backups()) unms.removeBackup(b.id);
  unms.addBackup({ size: 8 });
  const p = await plugin({ allowMassDelete: "1" });
  t.after(() => p.close());
  const code = await runUcrmPlugin({ pluginDir: p.dir, dryRun: true });
  assert.equal(code, 0);
  assert.equal((await p.config()).allowMassDelete, "1");
});
