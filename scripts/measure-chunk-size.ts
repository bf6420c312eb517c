/**
 * Measures DropboxBackupStore upload throughput and peak memory against chunk size, through the
 * loopback Dropbox fake. The fake runs in this process; each upload runs in a child process so its
 * peak RSS (getrusage, from the OS) is the uploader's alone.
 *
 *   node --import tsx scripts/measure-chunk-size.ts [--mib 256] [--chunks 4,8,16,32,48,64] [--fetch node-http,global]
 *
 * The result table is copied into the comment above DEFAULT_DROPBOX_CHUNK_BYTES.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DropboxBackupStore } from "../src/adapters/dropbox/dropbox-backup-store.ts";
import type { AccessTokenProvider } from "../src/domain/ports.ts";
import { FakeDropbox } from "../src/testing/fakes/dropbox.ts";
import { startLoopbackServer } from "../src/testing/fakes/loopback.ts";

const MiB = 1024 * 1024;
const PIECE_BYTES = 64 * 1024;

interface ChildResult {
  seconds: number;
  bytes: number;
  maxRssMiB: number;
}

/** A generated backup: `bytes` in 64 KiB pieces, like a network download, without allocating per piece. */
async function* generated(bytes: number): AsyncGenerator<Uint8Array> {
  const piece = new Uint8Array(PIECE_BYTES);
  for (let i = 0; i < piece.length; i++) piece[i] = (i * 131 + 7) & 0xff;
  let sent = 0;
  while (sent < bytes) {
    const take = Math.min(PIECE_BYTES, bytes - sent);
    piece[0] = sent & 0xff; // vary the content a little
    yield take === PIECE_BYTES ? piece : piece.subarray(0, take);
    sent += take;
  }
}

async function child(): Promise<void> {
  const { BASE_URL, TOKEN, CHUNK_MIB, SIZE_MIB, FETCH_KIND } = process.env;
  const tokens: AccessTokenProvider = {
    accessToken: async () => TOKEN!,
    refreshAfterRejection: async () => {
      throw new Error("measurement tokens do not expire");
    },
  };
  const store = new DropboxBackupStore({
    tokens,
    baseUrl: BASE_URL!,
    chunkBytes: Number(CHUNK_MIB) * MiB,
    ...(FETCH_KIND === "global" ? { fetch: globalThis.fetch } : {}),
  });
  const bytes = Number(SIZE_MIB) * MiB;
  const started = performance.now();
  const stored = await store.put("measure", `upload-${CHUNK_MIB}.bin`, { stream: generated(bytes) });
  const seconds = (performance.now() - started) / 1000;
  if (stored.size !== bytes) throw new Error(`stored ${stored.size} bytes, expected ${bytes}`);
  const result: ChildResult = { seconds, bytes, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

function runChild(env: Record<string, string>): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(import.meta.url);
    const proc = spawn(process.execPath, ["--import", "tsx", script, "--child"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.on("data", (data: Buffer) => (out += data.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || !line) reject(new Error(`measurement child exited with ${code}: ${out.trim()}`));
      else resolve(JSON.parse(line.slice(7)) as ChildResult);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "boolean", default: false },
      mib: { type: "string", default: "256" },
      chunks: { type: "string", default: "4,8,16,32,48,64" },
      fetch: { type: "string", default: "node-http" },
    },
  });
  if (values.child) return child();

  // keepBytesLimit 0: the fake keeps only size and hash, so its memory stays flat too.
  const fake = new FakeDropbox({ keepBytesLimit: 0 });
  const server = await startLoopbackServer(fake.handlers);
  const token = fake.issueAccessToken();
  try {
    console.log(`Upload of ${values.mib} MiB through the loopback Dropbox fake (Node ${process.version}, ${process.platform}/${process.arch})`);
    console.log("fetch      | chunk MiB | MiB/s  | peak RSS MiB | requests");
    for (const fetchKind of values.fetch.split(",")) {
      for (const chunk of values.chunks.split(",")) {
        const before = fake.requestCount();
        const result = await runChild({ BASE_URL: server.url, TOKEN: token, CHUNK_MIB: chunk, SIZE_MIB: values.mib, FETCH_KIND: fetchKind });
        const rate = result.bytes / MiB / result.seconds;
        console.log(
          `${fetchKind.padEnd(10)} | ${chunk.padStart(9)} | ${rate.toFixed(0).padStart(6)} | ${result.maxRssMiB.toFixed(0).padStart(12)} | ${fake.requestCount() - before}`,
        );
      }
    }
  } finally {
    await server.close();
  }
}

await main();
