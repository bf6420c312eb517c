// Types for scripts/test-runtimes.mjs, which the plugin e2e tests import.
export interface PinnedTarball {
  path: string;
  name: string;
  version: string;
  integrity: string;
  binary: string;
}
export function testRuntimesDir(): string;
export function ensureTestRuntimes(): { node16: string; node18: string; bun: string; mirrorTarball: PinnedTarball };
