/**
 * DropboxBackupStore.removeMany through files/delete_batch and delete_batch/check against the fake:
 * 1000 paths per job, jobs polled until complete, outcomes per file.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setupServer } from "msw/node";
import { DELETE_BATCH_MAX, DropboxBackupStore } from "../../../src/adapters/dropbox/dropbox-backup-store.ts";
import { createNodeHttpFetch } from "../../../src/adapters/http/node-http-fetch.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { AccessTokenProvider } from "../../../src/domain/ports.ts";
import { FakeDropbox } from "../../../src/testing/fakes/dropbox.ts";

const msw = setupServer();
before(() => msw.listen({ onUnhandledRequest: "error" }));
after(() => msw.close());

function harness() {
  const fake = new FakeDropbox();
  msw.resetHandlers(...fake.handlers);
  const token = fake.issueAccessToken();
  const tokens: AccessTokenProvider = { accessToken: async () => token, refreshAfterRejection: async () => token };
  const sleeps: number[] = [];
  const store = new DropboxBackupStore({ tokens, fetch: createNodeHttpFetch(), sleep: async (ms) => void sleeps.push(ms) });
  return { fake, store, sleeps };
}

const name = (i: number) => `unms-backup-20240101-0000_${i}.unms`;

describe("DropboxBackupStore.removeMany (delete_batch)", () => {
  test("2,500 deletions take three jobs, each checked until complete, instead of 2,500 requests", async () => {
    const h = harness();
    const names = Array.from({ length: 2500 }, (_, i) => name(i));
    for (const n of names) h.fake.putFile(`/backups/${n}`, "x");
    h.fake.putFile("/backups/keep.txt", "k");
    const outcomes = await h.store.removeMany("backups", names);
    assert.equal(outcomes.length, 2500);
    assert.ok(outcomes.every((o, i) => o.name === names[i] && o.error === undefined));
    assert.deepEqual(h.fake.listFiles().map((f) => f.path), ["/backups/keep.txt"]);
    assert.equal(h.fake.requestCount("files/delete_batch"), Math.ceil(2500 / DELETE_BATCH_MAX));
    assert.equal(h.fake.requestCount("files/delete_batch/check"), 6, "the fake's first check answers in_progress");
    assert.equal(h.fake.requestCount("files/delete_v2"), 0);
    assert.deepEqual(h.sleeps, [100, 200, 100, 200, 100, 200]);
  });

  test("a file already gone counts as deleted; another file's failure is reported for that file only", async () => {
    const h = harness();
    h.fake.putFile(`/backups/${name(1)}`, "x");
    h.fake.putFile(`/backups/${name(3)}`, "x");
    h.fake.injectFault("files/delete_batch/check", {
      type: "status", status: 200,
      body: {
        ".tag": "complete",
        entries: [
          { ".tag": "success", metadata: { ".tag": "file", name: name(1) } },
          { ".tag": "failure", failure: { ".tag": "path_lookup", path_lookup: { ".tag": "not_found" } } },
          { ".tag": "failure", failure: { ".tag": "too_many_write_operations" } },
        ],
      },
    });
    const outcomes = await h.store.removeMany("backups", [name(1), name(2), name(3)]);
    assert.deepEqual(outcomes.slice(0, 2), [{ name: name(1) }, { name: name(2) }]);
    const failed = outcomes[2]!;
    assert.equal(failed.name, name(3));
    assert.ok(SyncError.is(failed.error));
    assert.match(failed.error.message, /delete_batch for file "\/backups\/unms-backup-20240101-0000_3\.unms".*too_many_write_operations/);
  });

  test("a job that failed as a whole throws a specific error naming the folder", async () => {
    const h = harness();
    h.fake.putFile(`/backups/${name(1)}`, "x");
    h.fake.injectFault("files/delete_batch/check", { type: "status", status: 200, body: { ".tag": "failed", failed: { ".tag": "too_many_write_operations" } } });
    const error = await h.store.removeMany("backups", [name(1)]).then(() => undefined, (e: unknown) => e);
    assert.ok(SyncError.is(error), String(error));
    assert.match(error.message, /delete_batch\/check for 1 files in folder "\/backups".*too_many_write_operations/);
  });
});
