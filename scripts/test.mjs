#!/usr/bin/env node
// `npm test`: every check and test phase, the independent ones side by side. Each phase is a
// package.json script (one definition, also runnable alone); its output is printed whole when it
// ends (the runners' own closing lines, `# pass N` / `# fail 0`, included), with its time. Exits 1
// when any phase fails; a phase whose prerequisite failed is reported as not run.
//
// Environment: BACKUP_SYNC_TEST_JOBS, phases at a time (default 3: on 2 cores the end-to-end tests
// spend much of their time waiting on child processes).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { withTestAllocator } from "./test-allocator.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts;

/** In start order: when a slot frees, the first phase whose prerequisites passed starts. */
const PHASES = [
  { name: "build" },
  // The end-to-end tests run the built CLI, plugin zip and package.
  { name: "test:node", after: ["build"] },
  { name: "typecheck" },
  { name: "test:deno" },
  { name: "check:generated" },
];
const jobs = Number(process.env.BACKUP_SYNC_TEST_JOBS) || 3;

const env = withTestAllocator({ ...process.env, PATH: [join(root, "node_modules", ".bin"), process.env.PATH].join(delimiter) });

function runPhase(phase) {
  const command = scripts[phase.name];
  const started = performance.now();
  return new Promise((resolve) => {
    if (!command) {
      resolve({ ...phase, code: 1, seconds: 0, output: `no "${phase.name}" script in package.json\n` });
      return;
    }
    // The shell's `times` (POSIX) reports the CPU time of everything the phase ran, on fd 3.
    const script = `${command}\nstatus=$?\ntimes >&3\nexit $status`;
    const child = spawn("/bin/sh", ["-c", script], { cwd: root, env, stdio: ["ignore", "pipe", "pipe", "pipe"] });
    const chunks = [];
    let times = "";
    child.stdout.on("data", (chunk) => chunks.push(chunk));
    child.stderr.on("data", (chunk) => chunks.push(chunk));
    child.stdio[3].on("data", (chunk) => (times += chunk));
    child.on("error", (error) => chunks.push(Buffer.from(`${phase.name}: could not start "${command}": ${error.message}\n`)));
    child.on("close", (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      resolve({ ...phase, code: code ?? (signal ? 1 : 0), seconds, cpuSeconds: childCpuSeconds(times), output: Buffer.concat(chunks).toString("utf8") });
    });
  });
}

/** user + sys of the shell's children from the second line of `times` ("1m2.50s 0m0.75s"). */
function childCpuSeconds(times) {
  const children = times.trim().split("\n")[1] ?? "";
  const values = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return values.length === 2 ? values[0] + values[1] : undefined;
}

function print(result) {
  const status = result.skipped ? "not run" : result.code === 0 ? "ok" : `FAILED (exit ${result.code})`;
  process.stdout.write(`\n=== ${result.name}: ${status} in ${result.seconds.toFixed(1)} s\n${result.output}`);
  if (result.output && !result.output.endsWith("\n")) process.stdout.write("\n");
}

const started = performance.now();
const results = new Map();
const pending = [...PHASES];
const running = new Set();

await new Promise((done) => {
  const schedule = () => {
    for (let i = 0; i < pending.length && running.size < jobs; ) {
      const phase = pending[i];
      const blockedBy = (phase.after ?? []).filter((name) => results.get(name)?.code !== 0);
      if (blockedBy.some((name) => results.has(name))) {
        pending.splice(i, 1);
        const skipped = { ...phase, code: 1, seconds: 0, skipped: true, output: `not run: ${blockedBy.join(", ")} failed\n` };
        results.set(phase.name, skipped);
        print(skipped);
        continue;
      }
      if (blockedBy.length > 0) {
        i++;
        continue;
      }
      pending.splice(i, 1);
      const run = runPhase(phase).then((result) => {
        running.delete(run);
        results.set(result.name, result);
        print(result);
        schedule();
      });
      running.add(run);
    }
    if (running.size === 0 && pending.length === 0) done();
  };
  schedule();
});

const wall = (performance.now() - started) / 1000;
const cpu = (seconds) => (seconds === undefined ? "     ?" : seconds.toFixed(1).padStart(6));
console.log(`\n=== phases (${jobs} at a time, so wall times overlap; CPU = user + sys of the phase's processes)`);
console.log(`${"phase".padEnd(16)} ${"wall".padStart(8)} ${"CPU".padStart(8)}`);
let cpuTotal = 0;
for (const phase of PHASES) {
  const result = results.get(phase.name);
  const status = result.skipped ? "not run" : result.code === 0 ? "ok" : `FAILED (exit ${result.code})`;
  cpuTotal += result.cpuSeconds ?? 0;
  console.log(`${phase.name.padEnd(16)} ${result.seconds.toFixed(1).padStart(6)} s ${cpu(result.cpuSeconds)} s  ${status}`);
}
const failed = PHASES.filter((phase) => results.get(phase.name).code !== 0).map((phase) => phase.name);
console.log(`${"npm test".padEnd(16)} ${wall.toFixed(1).padStart(6)} s ${cpu(cpuTotal)} s  ${failed.length ? `FAILED: ${failed.join(", ")}` : "ok"}`);
process.exit(failed.length ? 1 : 0);
