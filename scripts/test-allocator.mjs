// The environment every test process starts with (npm test, test:node, test:deno): glibc's malloc
// asked to back its memory with transparent huge pages (glibc 2.35+; other C libraries ignore the
// variable). On our 2-core VMs a page fault costs about 10 µs, and the tests stream gigabytes
// through fresh buffers (patterns, 4 MiB Dropbox chunks, copies through the fakes): with 4 KiB
// pages that was 2.1 million faults and 30 s of system time in test:node; with 2 MiB pages it is
// about 1.3 million, and npm test takes 12-20 s less CPU (issue 10, BENCHMARKS.md). Test-only: the
// tool itself never sets it, so what the tests check of it is unchanged.

const TUNABLES = { "glibc.malloc.hugetlb": "1" };

/** `env` with our tunables added to GLIBC_TUNABLES; any the caller already set win. */
export function withTestAllocator(env) {
  const given = (env.GLIBC_TUNABLES ?? "").split(":").filter((entry) => entry !== "");
  const named = new Set(given.map((entry) => entry.split("=")[0]));
  const added = Object.entries(TUNABLES).filter(([name]) => !named.has(name)).map(([name, value]) => `${name}=${value}`);
  return { ...env, GLIBC_TUNABLES: [...given, ...added].join(":") };
}
