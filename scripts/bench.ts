/**
 * `npm run bench`: the real sync path (`node dist/cli.mjs sync --json`) against a raw baseline (plain
 * `fetch` from the fake UNMS into a Dropbox upload session: same chunk size, no hashing, no retries),
 * side by side, on generated backups served by the loopback fakes.
 *
 *   node --import tsx scripts/bench.ts [--sizes 64,1024] [--repeat 1] [--chunk-mib 16] [--node-options=--max-semi-space-size=4]
 *
 * --chunk-mib sets DROPBOX_CHUNK_MIB for the real path and the same chunk for the baseline (default:
 * DEFAULT_DROPBOX_CHUNK_BYTES; the memory target is defined for the default).
 * --node-options sets NODE_OPTIONS for both children (for experiments on memory; the targets hold without).
 *
 * The fakes run in this process; each measured run is a child process, so its peak RSS (getrusage
 * ru_maxrss, read by a tiny preloaded exit hook) is the uploader's alone. Every measurement gets
 * fresh fakes: one backup in UNMS, an empty Dropbox. Exits 1 when a target is missed.
 * Results and the machine they were measured on: BENCHMARKS.md.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_DROPBOX_CHUNK_BYTES } from "../src/adapters/dropbox/dropbox-backup-store.ts";
import { FakeDropbox } from "../src/testing/fakes/dropbox.ts";
import { startLoopbackServer } from "../src/testing/fakes/loopback.ts";
import { FakeUnms } from "../src/testing/fakes/unms.ts";

const MiB = 1024 * 1024;
const TARGET_RATIO = 0.8;
const TARGET_PEAK_RSS_MIB = 160;
const TARGET_RSS_GROWTH_MIB = 16;
const cli = resolve("dist/cli.mjs");
let childNodeOptions = "";
let chunkBytes = DEFAULT_DROPBOX_CHUNK_BYTES;

/** Preloaded into every measured child: its own peak RSS from the kernel, written at exit. */
const RSS_HOOK = `import { writeFileSync } from "node:fs";
process.on("exit", () => writeFileSync(process.env.BENCH_RSS_FILE, String(process.resourceUsage().maxRSS)));
`;

/**
 * The baseline, plain JavaScript so no TypeScript loader inflates its RSS: download with fetch, fill
 * one chunk buffer, send it, repeat; finish carries the last partial chunk, as the real path does.
 */
const RAW_BASELINE = `const env = process.env;
const chunkBytes = Number(env.CHUNK_BYTES);
const started = performance.now();
const download = await fetch(env.UNMS_URL + "/api/v2.1/nms/backups/" + env.BACKUP_ID, { headers: { "x-auth-token": env.UNMS_API_TOKEN } });
if (!download.ok || !download.body) throw new Error("raw baseline: UNMS download answered " + download.status);

async function call(route, arg, body) {
  const response = await fetch(env.DROPBOX_BASE_URL + "/2/files/" + route, {
    method: "POST",
    headers: { authorization: "Bearer " + env.ACCESS_TOKEN, "dropbox-api-arg": JSON.stringify(arg), "content-type": "application/octet-stream" },
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error("raw baseline: " + route + " answered " + response.status + ": " + text);
  return JSON.parse(text);
}

const buffer = new Uint8Array(chunkBytes);
let filled = 0;
let offset = 0;
const sessionId = (await call("upload_session/start", { close: false }, new Uint8Array(0))).session_id;
for await (const piece of download.body) {
  for (let at = 0; at < piece.byteLength; ) {
    const take = Math.min(piece.byteLength - at, chunkBytes - filled);
    buffer.set(piece.subarray(at, at + take), filled);
    filled += take;
    at += take;
    if (filled === chunkBytes) {
      await call("upload_session/append_v2", { cursor: { session_id: sessionId, offset }, close: false }, buffer);
      offset += filled;
      filled = 0;
    }
  }
}
const metadata = await call(
  "upload_session/finish",
  { cursor: { session_id: sessionId, offset }, commit: { path: env.TARGET_PATH, mode: "add", autorename: false, mute: true } },
  buffer.subarray(0, filled),
);
const durationMs = performance.now() - started;
process.stdout.write("RESULT " + JSON.stringify({ bytes: metadata.size, durationMs }) + "\\n");
`;

interface Measurement {
  bytes: number;
  /** From the start of the UNMS download to Dropbox's answer to finish. */
  durationMs: number;
  /** The child's whole life, process start-up included. */
  wallMs: number;
  peakRssMiB: number;
  unmsRequests: number;
  dropboxRequests: number;
  hashOk: boolean;
}

interface ChildOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
  peakRssMiB: number;
  wallMs: number;
}

async function runChild(workDir: string, args: string[], env: Record<string, string>): Promise<ChildOutcome> {
  const rssFile = join(workDir, `rss-${Math.random().toString(36).slice(2)}`);
  const hook = pathToFileURL(join(workDir, "rss-hook.mjs")).href;
  const started = performance.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn(process.execPath, ["--import", hook, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_OPTIONS: childNodeOptions, ...env, BENCH_RSS_FILE: rssFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (data: Buffer) => (out += data.toString()));
    child.stderr.on("data", (data: Buffer) => (err += data.toString()));
    child.on("error", fail);
    child.on("close", (exitCode) => done({ code: exitCode, stdout: out, stderr: err }));
  });
  const wallMs = performance.now() - started;
  const maxRssKiB = Number(await readFile(rssFile, "utf8").catch(() => "NaN"));
  return { code, stdout, stderr, wallMs, peakRssMiB: maxRssKiB / 1024 };
}

interface Fakes {
  unms: FakeUnms;
  dropbox: FakeDropbox;
  backupId: string;
  unmsUrl: string;
  dropboxUrl: string;
  unmsRequests(): number;
  dropboxRequests(): number;
  close(): Promise<void>;
}

/** Fresh fakes with one backup of `bytes`; Dropbox keeps only sizes and hashes, so its memory stays flat. */
async function startFakes(bytes: number): Promise<Fakes> {
  const unms = new FakeUnms({ apiToken: `bench-unms-${Math.random().toString(36).slice(2)}` });
  const dropbox = new FakeDropbox({ appKey: "benchappkey", keepBytesLimit: 0 });
  const backup = unms.addBackup({ id: "7f3c2a10-0000-4000-8000-00000000be9c", createdAt: new Date().toISOString(), size: bytes });
  const unmsServer = await startLoopbackServer(unms.handlers);
  const dropboxServer = await startLoopbackServer(dropbox.handlers);
  return {
    unms,
    dropbox,
    backupId: backup.id,
    unmsUrl: `${unmsServer.url}/nms`,
    dropboxUrl: dropboxServer.url,
    unmsRequests: () => unmsServer.requestCount,
    dropboxRequests: () => dropboxServer.requestCount,
    close: async () => {
      await unmsServer.close();
      await dropboxServer.close();
    },
  };
}

function uploadedHashOk(fakes: Fakes, bytes: number, expectedHash: string): boolean {
  const files = fakes.dropbox.listFiles();
  return files.length === 1 && files[0]!.size === bytes && files[0]!.contentHash === expectedHash;
}

async function measureRaw(workDir: string, bytes: number, expectedHash: string): Promise<Measurement> {
  const fakes = await startFakes(bytes);
  try {
    const outcome = await runChild(workDir, [join(workDir, "raw-baseline.mjs")], {
      UNMS_URL: fakes.unmsUrl,
      UNMS_API_TOKEN: fakes.unms.apiToken,
      BACKUP_ID: fakes.backupId,
      DROPBOX_BASE_URL: fakes.dropboxUrl,
      ACCESS_TOKEN: fakes.dropbox.issueAccessToken(),
      CHUNK_BYTES: String(chunkBytes),
      TARGET_PATH: `/raw/${fakes.backupId}.unms`,
    });
    const line = outcome.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (outcome.code !== 0 || !line) {
      throw new Error(`raw baseline child exited with ${outcome.code}: ${outcome.stderr.trim() || outcome.stdout.trim()}`);
    }
    const result = JSON.parse(line.slice(7)) as { bytes: number; durationMs: number };
    return {
      bytes: result.bytes,
      durationMs: result.durationMs,
      wallMs: outcome.wallMs,
      peakRssMiB: outcome.peakRssMiB,
      unmsRequests: fakes.unmsRequests(),
      dropboxRequests: fakes.dropboxRequests(),
      hashOk: uploadedHashOk(fakes, bytes, expectedHash),
    };
  } finally {
    await fakes.close();
  }
}

async function measureReal(workDir: string, bytes: number, expectedHash: string): Promise<Measurement> {
  const fakes = await startFakes(bytes);
  const stateDir = await mkdtemp(join(workDir, "state-"));
  try {
    const outcome = await runChild(workDir, [cli, "sync", "--json"], {
      UNMS_URL: fakes.unmsUrl,
      UNMS_API_TOKEN: fakes.unms.apiToken,
      DROPBOX_APP_KEY: fakes.dropbox.appKey,
      DROPBOX_APP_SECRET: fakes.dropbox.appSecret,
      DROPBOX_REFRESH_TOKEN: fakes.dropbox.issueRefreshToken(),
      DROPBOX_BASE_URL: fakes.dropboxUrl,
      STATE_DIR: stateDir,
      ...(chunkBytes === DEFAULT_DROPBOX_CHUNK_BYTES ? {} : { DROPBOX_CHUNK_MIB: String(chunkBytes / MiB) }),
    });
    const summaryLine = outcome.stdout.split("\n").find((l) => l.startsWith("{"));
    const summary = summaryLine ? (JSON.parse(summaryLine) as { uploads?: { bytes: number; durationMs: number }[] }) : undefined;
    const upload = summary?.uploads?.[0];
    if (outcome.code !== 0 || !upload) {
      throw new Error(`dist/cli.mjs sync --json exited with ${outcome.code}: ${outcome.stderr.trim() || outcome.stdout.trim()}`);
    }
    return {
      bytes: upload.bytes,
      durationMs: upload.durationMs,
      wallMs: outcome.wallMs,
      peakRssMiB: outcome.peakRssMiB,
      unmsRequests: fakes.unmsRequests(),
      dropboxRequests: fakes.dropboxRequests(),
      hashOk: uploadedHashOk(fakes, bytes, expectedHash),
    };
  } finally {
    await fakes.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

const rateOf = (m: Measurement): number => m.bytes / MiB / (m.durationMs / 1000);

/** Best throughput of the repeats; the highest peak RSS of them (memory is judged on the worst run). */
function combine(runs: Measurement[]): Measurement {
  const best = runs.reduce((a, b) => (rateOf(b) > rateOf(a) ? b : a));
  return {
    ...best,
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
    hashOk: runs.every((r) => r.hashOk),
  };
}

function sizeLabel(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

function parseSizes(text: string): number[] {
  const sizes = text.split(",").map((s) => Number(s.trim()));
  if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s <= 0)) {
    throw new Error(`--sizes ${text}: expected whole MiB counts separated by commas, e.g. --sizes 64,1024`);
  }
  return sizes.sort((a, b) => a - b);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: "64,1024" },
      repeat: { type: "string", default: "1" },
      "node-options": { type: "string", default: "" },
      "chunk-mib": { type: "string", default: String(DEFAULT_DROPBOX_CHUNK_BYTES / MiB) },
    },
  });
  childNodeOptions = values["node-options"];
  chunkBytes = Number(values["chunk-mib"]) * MiB;
  if (!Number.isInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % (4 * MiB) !== 0) {
    throw new Error(`--chunk-mib ${values["chunk-mib"]}: expected a multiple of 4 (MiB), e.g. --chunk-mib 16`);
  }
  const sizes = parseSizes(values.sizes);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat ${values.repeat}: expected a whole number >= 1`);

  const workDir = await mkdtemp(join(tmpdir(), "backup-sync-bench-"));
  await writeFile(join(workDir, "rss-hook.mjs"), RSS_HOOK);
  await writeFile(join(workDir, "raw-baseline.mjs"), RAW_BASELINE);
  try {
    console.log(
      `Backup sync benchmark: UNMS -> Dropbox through the loopback fakes, chunk ${chunkBytes / MiB} MiB${chunkBytes === DEFAULT_DROPBOX_CHUNK_BYTES ? " (default)" : ""}, ` +
        `best of ${repeat}; Node ${process.version}, ${process.platform}/${process.arch}` +
        (childNodeOptions ? `; NODE_OPTIONS=${childNodeOptions}` : ""),
    );
    const rows: { mib: number; raw: Measurement; real: Measurement }[] = [];
    for (const mib of sizes) {
      const bytes = mib * MiB;
      const hashSource = new FakeUnms({ apiToken: "hash-only" });
      const { id } = hashSource.addBackup({ id: "7f3c2a10-0000-4000-8000-00000000be9c", size: bytes });
      const contentHash = hashSource.expectedContentHash(id);
      const raws: Measurement[] = [];
      const reals: Measurement[] = [];
      for (let i = 0; i < repeat; i++) {
        raws.push(await measureRaw(workDir, bytes, contentHash));
        reals.push(await measureReal(workDir, bytes, contentHash));
      }
      rows.push({ mib, raw: combine(raws), real: combine(reals) });
    }
    return report(rows);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function report(rows: { mib: number; raw: Measurement; real: Measurement }[]): number {
  const header = ["size", "raw MiB/s", "real MiB/s", "real/raw", "raw RSS MiB", "real RSS MiB", "raw requests", "real requests", "real wall s", "content_hash"];
  const lines = rows.map(({ mib, raw, real }) => [
    sizeLabel(mib),
    rateOf(raw).toFixed(0),
    rateOf(real).toFixed(0),
    (rateOf(real) / rateOf(raw)).toFixed(2),
    raw.peakRssMiB.toFixed(0),
    real.peakRssMiB.toFixed(0),
    `${raw.unmsRequests}+${raw.dropboxRequests}`,
    `${real.unmsRequests}+${real.dropboxRequests}`,
    (real.wallMs / 1000).toFixed(1),
    raw.hashOk && real.hashOk ? "match" : `MISMATCH (${[raw.hashOk ? "" : "raw", real.hashOk ? "" : "real"].filter(Boolean).join(", ")})`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ");
  console.log(format(header));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const line of lines) console.log(format(line));

  const checks: { ok: boolean; text: string }[] = [];
  for (const { mib, raw, real } of rows) {
    const ratio = rateOf(real) / rateOf(raw);
    checks.push({ ok: ratio >= TARGET_RATIO, text: `${sizeLabel(mib)}: throughput real/raw ${ratio.toFixed(2)} >= ${TARGET_RATIO}` });
    checks.push({ ok: real.peakRssMiB <= TARGET_PEAK_RSS_MIB, text: `${sizeLabel(mib)}: peak RSS ${real.peakRssMiB.toFixed(0)} MiB <= ${TARGET_PEAK_RSS_MIB} MiB` });
    checks.push({ ok: real.hashOk && raw.hashOk, text: `${sizeLabel(mib)}: content_hash in the fake Dropbox equals the backup's` });
  }
  if (rows.length > 1) {
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    const growth = last.real.peakRssMiB - first.real.peakRssMiB;
    checks.push({
      ok: growth <= TARGET_RSS_GROWTH_MIB,
      text: `peak RSS growth ${sizeLabel(first.mib)} -> ${sizeLabel(last.mib)}: ${growth.toFixed(0)} MiB <= ${TARGET_RSS_GROWTH_MIB} MiB`,
    });
  }
  console.log("");
  for (const check of checks) console.log(`${check.ok ? "PASS" : "FAIL"}  ${check.text}`);
  const failed = checks.filter((c) => !c.ok).length;
  console.log(failed === 0 ? "\nAll targets met." : `\n${failed} target(s) missed.`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
