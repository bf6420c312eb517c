/**
 * The UCRM plugin as UCRM runs it (see ./ucrm-plugin-harness.ts): the built zip, real `php main.php`,
 * the loopback fakes. Needs `npm run build` first (npm test does it) and `php` on PATH (CI installs
 * php-cli).
 *
 * The first-run story and the log trimming (main.php's own work) run through real php. The other
 * scenarios are about what the sync does in the plugin folder (PKCE, the lock, TLS settings, the
 * mass-deletion tick): they run `main(["ucrm", ...])` in process, the code main.php starts, which
 * saves a php and a runtime start per run; php's part of them is the same in every run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { makeTestCertificates } from "../fakes/tls-certificates.ts";
import { addBackups, explain, LOCK_FILE, phpAvailable, RULE, startPlugin, storedNames, TIMED_LINE } from "./ucrm-plugin-harness.ts";
test("php main.php: first run asks for authorization, the code is exchanged and kept, backups sync, a rerun changes nothing", { timeout: 180_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin();
  t.after(() => plugin.close());
  const names = addBackups(plugin.unms);
  const before = plugin.config();

  // 1. Nothing authorized: exit 3, the URL alone between two rules, as the original plugin logged it.
  const first = await plugin.run();
  assert.equal(first.code, 3, explain(plugin, first));
  const lines = plugin.logLines();
  const urlAt = lines.findIndex((line) => line.startsWith("https://www.dropbox.com/oauth2/authorize?"));
  assert.ok(urlAt > 0, `no authorization URL line in data/plugin.log\n${explain(plugin, first)}`);
  assert.match(lines[urlAt - 1]!, RULE, "the line before the URL must be a rule of =");
  assert.match(lines[urlAt + 1] ?? "", RULE, "the line after the URL must be a rule of =");
  const url = new URL(lines[urlAt]!);
  assert.equal(url.searchParams.get("client_id"), plugin.dropbox.appKey);
  assert.equal(url.searchParams.get("response_type"), "code");
  assert.equal(url.searchParams.get("token_access_type"), "offline");
  assert.deepEqual(plugin.config(), before, "a run that only asks for authorization must not change config.json");
  assert.deepEqual(storedNames(plugin), []);

  // 2. The admin pastes the code Dropbox showed (with the stray whitespace of a paste).
  const code = plugin.dropbox.issueAuthorizationCode({ clientId: plugin.dropbox.appKey });
  await plugin.setConfig({ dropboxAccessCode: `  ${code}\n` });
  const logBefore = plugin.logLines().length;
  const second = await plugin.run();
  assert.equal(second.code, 0, explain(plugin, second));
  const after = plugin.config();
  assert.equal(after.dropboxAccessCode, null, "the used code is cleared to null, as the original plugin writes it (an old plugin reinstalled then sends no empty token)");
  assert.equal(typeof after.dropboxRefreshToken, "string");
  assert.ok((after.dropboxRefreshToken as string).length > 0, "the refresh token must be written back to config.json");
  assert.ok(plugin.dropbox.secretsIssued().includes(after.dropboxRefreshToken as string), "config.json must hold the refresh token Dropbox issued");
  const { dropboxAccessCode: _c, dropboxRefreshToken: _r, ...otherKeysAfter } = after;
  const { dropboxAccessCode: _c0, dropboxRefreshToken: _r0, ...otherKeysBefore } = before;
  assert.deepEqual(otherKeysAfter, otherKeysBefore, "every other key and value of config.json must be kept");
  assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort());
  assert.deepEqual(storedNames(plugin), names);
  for (const [i, id] of ["aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"].entries()) {
    assert.equal(plugin.dropbox.listFiles().find((f) => f.path === `/${names[i]}`)?.contentHash, plugin.unms.expectedContentHash(id));
  }
  const runLines = plugin.logLines().slice(logBefore);
  assert.ok(runLines.length > 0, "the sync must log its lines");
  for (const line of runLines) assert.match(line, TIMED_LINE, `every log line reads "message (ISO time)": ${line}`);
  for (const name of names) assert.ok(runLines.some((line) => line.startsWith(`Uploaded ${name}`)), `no "Uploaded ${name}" line:\n${runLines.join("\n")}`);
  assert.ok(runLines.some((line) => line.includes("aaaaaaaa-0000-4000-8000-000000000003") && line.includes("in-progress")), "the skipped in-progress backup must be named");

  // 3. Rerun: everything is in place, nothing is uploaded, the refresh token stays.
  const uploadsSoFar = plugin.uploadRequests();
  const logBeforeRerun = plugin.logLines().length;
  const third = await plugin.run();
  assert.equal(third.code, 0, explain(plugin, third));
  assert.equal(plugin.uploadRequests(), uploadsSoFar, "a rerun must not upload anything");
  assert.deepEqual(storedNames(plugin), names);
  assert.deepEqual(plugin.config(), after, "a rerun must leave config.json as it was");
  const rerunLines = plugin.logLines().slice(logBeforeRerun);
  for (const line of rerunLines) assert.match(line, TIMED_LINE);
  assert.ok(!rerunLines.some((line) => line.startsWith("Uploaded ")), rerunLines.join("\n"));
  for (const name of names) assert.ok(rerunLines.some((line) => line.includes(name)), `the rerun must mention ${name} as already stored`);
});

test("ucrm entry: without an app secret the URL carries a PKCE challenge and the code is exchanged with its verifier", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin({ config: { dropboxAppSecret: "" }, inProcess: true });
  t.after(() => plugin.close());
  const names = addBackups(plugin.unms);

  const first = await plugin.run();
  assert.equal(first.code, 3, explain(plugin, first));
  const urlLine = plugin.logLines().find((line) => line.startsWith("https://www.dropbox.com/oauth2/authorize?"));
  assert.ok(urlLine, explain(plugin, first));
  const url = new URL(urlLine);
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  const codeChallenge = url.searchParams.get("code_challenge");
  assert.ok(codeChallenge, "a PKCE run must put code_challenge into the URL");

  const code = plugin.dropbox.issueAuthorizationCode({ clientId: plugin.dropbox.appKey, codeChallenge });
  await plugin.setConfig({ dropboxAccessCode: `${code} ` });
  const second = await plugin.run();
  assert.equal(second.code, 0, explain(plugin, second));
  const config = plugin.config();
  assert.equal(config.dropboxAccessCode, null, "cleared to null, as the original plugin writes it");
  assert.equal(config.dropboxAppSecret, "");
  assert.ok(plugin.dropbox.secretsIssued().includes(config.dropboxRefreshToken as string), "the PKCE refresh token must be written back");
  assert.deepEqual(storedNames(plugin), names);
});

test("php main.php: the log is trimmed to its last 256 lines before the run adds its own, and again at its end", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin();
  t.after(() => plugin.close());
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  const names = addBackups(plugin.unms);
  const old = Array.from({ length: 300 }, (_, i) => `old line ${i + 1} (2024-01-01T00:00:00+00:00)`);
  await writeFile(plugin.logPath, `${old.join("\n")}\n`);

  const run = await plugin.run();
  assert.equal(run.code, 0, explain(plugin, run));
  const lines = plugin.logLines();
  assert.equal(lines.length, 256, "trimmed again at the end of the run");
  const firstNew = lines.findIndex((line) => !line.startsWith("old line "));
  assert.ok(firstNew > 0, "some old lines are kept, the newest ones");
  assert.deepEqual(lines.slice(0, firstNew), old.slice(-firstNew), "the newest old lines, in order, at the top");
  assert.ok(!lines.includes("old line 44 (2024-01-01T00:00:00+00:00)"), "older lines must be gone");
  const added = lines.slice(firstNew);
  assert.ok(added.length > 0 && added.every((line) => !line.startsWith("old line ")), "the run's own lines follow the kept ones");
  for (const line of added) assert.match(line, TIMED_LINE);
  assert.deepEqual(storedNames(plugin), names);
});

test("ucrm entry: a second run while another holds the lock exits 1 and says so in the log", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin({ inProcess: true });
  t.after(() => plugin.close());
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  addBackups(plugin.unms);
  // This test process is alive and on this host: the lock is not stale.
  const lockPath = join(plugin.dir, "data", LOCK_FILE);
  const lock = `${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), hostname: hostname(), token: "held-by-the-ucrm-e2e-test" })}\n`;
  await writeFile(lockPath, lock);

  const run = await plugin.run();
  assert.equal(run.code, 1, explain(plugin, run));
  const errors = plugin.logLines().filter((line) => line.startsWith("ERROR: "));
  assert.ok(
    errors.some((line) => line.includes(`Another sync run is in progress (pid ${process.pid}`) && TIMED_LINE.test(line)),
    `no lock message in data/plugin.log\n${explain(plugin, run)}`,
  );
  assert.equal(plugin.uploadRequests(), 0, "a locked-out run must not upload");
  assert.deepEqual(storedNames(plugin), []);
  assert.equal(await readFile(lockPath, "utf8"), lock, "the other run's lock must be left alone");
});

test("ucrm entry: an HTTPS UNMS with a self-signed certificate stops at once, then syncs with unmsCaFile or the unmsTlsInsecure checkbox", { timeout: 180_000 }, async (t) => {
  phpAvailable();
  const certs = makeTestCertificates();
  t.after(() => certs.remove());
  const plugin = await startPlugin({ unmsTls: certs.selfSigned, inProcess: true });
  t.after(() => plugin.close());
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  const names = addBackups(plugin.unms);

  const refused = await plugin.run();
  assert.equal(refused.code, 2, explain(plugin, refused));
  const error = plugin.logLines().find((line) => line.startsWith("ERROR: UNMS's HTTPS certificate was refused"));
  assert.ok(error, explain(plugin, refused));
  assert.match(error, /self-signed/);
  assert.match(error, /UCRM plugin: unmsCaFile/);
  assert.match(error, /UCRM plugin: unmsTlsInsecure/);
  assert.deepEqual(storedNames(plugin), []);

  // The admin drops the certificate into data/ and names it in the form (a relative path).
  await writeFile(join(plugin.dir, "data", "uisp.pem"), certs.selfSigned.cert);
  await plugin.setConfig({ unmsCaFile: "uisp.pem" });
  const trusted = await plugin.run();
  assert.equal(trusted.code, 0, explain(plugin, trusted));
  assert.deepEqual(storedNames(plugin), names);

  await plugin.setConfig({ unmsCaFile: "", unmsTlsInsecure: true });
  const insecure = await plugin.run();
  assert.equal(insecure.code, 0, explain(plugin, insecure));
  const warnings = plugin.logLines().filter((line) => line.startsWith("WARNING: UNMS_TLS_INSECURE / unmsTlsInsecure is on"));
  assert.equal(warnings.length, 1, explain(plugin, insecure));
});

test("ucrm entry: a reset NMS deletes none of the old copies though 'Allow mass deletion' is ticked, and the tick is cleared", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin({ config: { allowMassDelete: true }, inProcess: true });
  t.after(() => plugin.close());
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  const old = [1, 2, 3].map((n) => `unms-backup-20230101-0100_0a0a0a0a-0000-4000-8000-00000000000${n}.unms`);
  for (const name of old) plugin.dropbox.putFile(`/${name}`, "a copy from before UISP was reinstalled");
  const names = addBackups(plugin.unms);

  const run = await plugin.run();
  assert.equal(run.code, 0, explain(plugin, run));
  assert.deepEqual(storedNames(plugin), [...old, ...names].sort());
  assert.equal(plugin.dropbox.requestCount("files/delete_v2"), 0);
  const lines = plugin.logLines();
  assert.ok(lines.some((line) => /None of the 2 successful backup\(s\) UNMS lists matches any of the 3 backup file\(s\).*reinstalled/.test(line)), explain(plugin, run));
  assert.ok(lines.some((line) => /"Allow mass deletion" \(allowMassDelete\) was used by this run and has been cleared \(set to false\)/.test(line)), explain(plugin, run));
  assert.equal(plugin.config().allowMassDelete, false);
  assert.deepEqual(plugin.config().unrelatedSetting, { keep: ["me", 1, true] });
});
