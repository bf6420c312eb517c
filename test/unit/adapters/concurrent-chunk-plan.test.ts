import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { busiestLaneCost, planConcurrentChunks, REQUEST_OVERHEAD_BYTES } from "../../../src/adapters/dropbox/concurrent-chunk-plan.ts";

const MiB = 1024 * 1024;

describe("planConcurrentChunks", () => {
  test("gives every lane and one spare a buffer within the budget, in whole 4 MiB blocks", () => {
    assert.deepEqual(planConcurrentChunks(undefined, 4, 40 * MiB), { chunkBytes: 8 * MiB, buffers: 5 });
    assert.deepEqual(planConcurrentChunks(undefined, 4, 60 * MiB), { chunkBytes: 12 * MiB, buffers: 5 });
    assert.deepEqual(planConcurrentChunks(undefined, 2, 40 * MiB), { chunkBytes: 12 * MiB, buffers: 3 });
    // Below 4 MiB a buffer it cannot go: 16 lanes get 4 MiB each, over the budget.
    assert.deepEqual(planConcurrentChunks(undefined, 16, 40 * MiB), { chunkBytes: 4 * MiB, buffers: 17 });
  });

  test("fills the last round: 256 MiB over 4 lanes takes 16 MiB chunks (4 full rounds), not 20 or 24", () => {
    // 20 MiB: 13 chunks, 4 rounds with the last one on one lane; 24 MiB: 11 chunks, 3 rounds of 24 MiB.
    const plan = planConcurrentChunks(256 * MiB, 4, 5 * 24 * MiB);
    assert.equal(plan.chunkBytes, 16 * MiB);
    assert.ok(busiestLaneCost(256 * MiB, 4, 16 * MiB) < busiestLaneCost(256 * MiB, 4, 20 * MiB));
  });

  test("prefers the smaller chunk when a larger one only adds an idle round: 256 MiB with 12 MiB allowed takes 8", () => {
    // 12 MiB: 22 chunks in 6 rounds (72 MiB on the busiest lane); 8 MiB: 32 chunks in 8 full rounds (64 MiB).
    assert.equal(planConcurrentChunks(256 * MiB, 4, 60 * MiB).chunkBytes, 8 * MiB);
    // 1 GiB: 12 MiB chunks fill 21.3 rounds, the larger chunk wins there.
    assert.equal(planConcurrentChunks(1024 * MiB, 4, 60 * MiB).chunkBytes, 12 * MiB);
  });

  test("a file that fits one chunk goes whole; one a little larger is split so the lanes share it", () => {
    assert.equal(planConcurrentChunks(8 * MiB, 4, 40 * MiB).chunkBytes, 8 * MiB);
    assert.equal(busiestLaneCost(8 * MiB, 4, 8 * MiB), 8 * MiB + REQUEST_OVERHEAD_BYTES);
    // 9 MiB: three 4 MiB pieces at once beat 8 + 1 MiB on two lanes.
    assert.equal(planConcurrentChunks(9 * MiB, 4, 40 * MiB).chunkBytes, 4 * MiB);
  });

  test("every chunk size it returns is a multiple of 4 MiB within the budget's largest", () => {
    for (let mib = 1; mib <= 600; mib += 7) {
      for (const lanes of [2, 3, 4, 8]) {
        const plan = planConcurrentChunks(mib * MiB, lanes, 40 * MiB);
        assert.equal(plan.chunkBytes % (4 * MiB), 0, `${mib} MiB over ${lanes} lanes`);
        assert.ok(plan.chunkBytes >= 4 * MiB && plan.chunkBytes <= Math.max(4 * MiB, Math.floor(40 / (lanes + 1) / 4) * 4 * MiB), `${mib} MiB over ${lanes} lanes: ${plan.chunkBytes / MiB} MiB`);
      }
    }
  });
});
