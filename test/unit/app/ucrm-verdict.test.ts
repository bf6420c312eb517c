/**
 * The UCRM run in process (a local target folder): each run's log ends with the status verdict,
 * staleness fails the run under the plugin's own key name, the health-check URL (config.json
 * `healthcheckUrl`) is pinged and appears nowhere in plugin.log or the echoed output.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { runUcrmPlugin } from "../../../src/app/ucrm-main.ts";
import { FakeUnms } from "../../../src/testing/fakes/unms.ts";
import { startLoopbackServer, type LoopbackServer } from "../../../src/testing/fakes/loopback.ts";
import { startHealthcheckReceiver, type HealthcheckReceiver } from "../../e2e/healthcheck-receiver.ts";

const TOKEN = "verdict-unms-token-7c2f";
const HC_TOKEN = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const HOUR = 3_600_000;
const NOW = Date.parse("2026-12-02T12:00:00Z");
const unms = new FakeUnms({ apiToken: TOKEN, timezone: "UTC" });
let server: LoopbackServer;
let hc: HealthcheckReceiver;
before(async () => {
  server = await startLoopbackServer(unms.handlers);
  hc = await startHealthcheckReceiver();
});
after(async () => {
  await server.close();
  await hc.close();
});

test("UCRM: the log ends with the verdict; staleness names maxBackupAgeHours; pings go out and the URL stays out of plugin.log", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "ucrm-verdict-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = `${hc.url}/${HC_TOKEN}`;
  await mkdir(join(dir, "data"), { recursive: true });
  await writeFile(join(dir, "ucrm.json"), JSON.stringify({ unmsLocalUrl: `${server.url}/nms/` }));
  await writeFile(join(dir, "data", "config.json"), JSON.stringify({ unmsApiToken: TOKEN, targetDir: join(dir, "target"), healthcheckUrl: url }));
  let output = "";
  const stdout = new Writable({ write: (chunk, _enc, done) => ((output += String(chunk)), done()) });
  const run = (now: number) => runUcrmPlugin({ pluginDir: dir, stdout, now: () => now });
  const logLines = async () => (await readFile(join(dir, "data", "plugin.log"), "utf8")).trimEnd().split("\n");

  unms.addBackup({ createdAt: new Date(NOW - 5 * HOUR).toISOString(), size: 4096 });
  assert.equal(await run(NOW), 0, output);
  const good = await logLines();
  assert.match(good.at(-1)!, /^Verdict: healthy \(/, good.slice(-6).join("\n"));
  assert.match(good.at(-5)!, /^UNMS: newest successful backup 2026-12-02T07:00:00.000Z \(5 hours ago\); 1 successful of 1 listed/);

  assert.equal(await run(NOW + 72 * HOUR), 1, output);
  const stale = await logLines();
  assert.ok(stale.some((l) => /^ERROR: UNMS's newest successful backup is 3 days old .* older than "Maximum backup age \(hours\)" \(maxBackupAgeHours\) \(48 h\)/.test(l)), stale.join("\n"));
  const verdictAt = stale.findLastIndex((l) => l.startsWith("Verdict: NOT HEALTHY (2 problems)"));
  assert.ok(verdictAt > 0, stale.slice(-8).join("\n"));
  assert.match(stale[verdictAt + 1]!, /^WARNING: UNMS's newest successful backup is 3 days old/);
  assert.match(stale[verdictAt + 2]!, /^WARNING: The last sync run failed \(exit code 1/);
  assert.equal(stale.length, verdictAt + 3, "the verdict is the log's last lines");

  assert.deepEqual(hc.pings.map((p) => p.path), [`/${HC_TOKEN}/start`, `/${HC_TOKEN}/0`, `/${HC_TOKEN}/start`, `/${HC_TOKEN}/1`]);
  const log = await readFile(join(dir, "data", "plugin.log"), "utf8");
  for (const [what, text] of [["plugin.log", log], ["the echoed output", output], ["the private state", await readFile(join(dir, "data", "dropbox-authorization.json"), "utf8")]] as const) {
    assert.ok(!text.includes(HC_TOKEN), `${what} must not hold the health-check token`);
  }
});
