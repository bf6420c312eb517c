/**
 * DROPBOX_BASE_URL with an embedder's fetch: the store moves Dropbox's hosts onto the base URL (path
 * prefix kept) the same way our node:http fetch does, and leaves other hosts alone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DropboxBackupStore } from "../../../src/adapters/dropbox/dropbox-backup-store.ts";
import { onDropboxBase } from "../../../src/adapters/http/node-http-fetch.ts";

test("an embedder's fetch is called with Dropbox's API host moved onto baseUrl, path prefix and query kept", async () => {
  const seen: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    seen.push(input instanceof Request ? input.url : String(input));
    return new Response(JSON.stringify({ entries: [], cursor: "c", has_more: false }), { status: 200, headers: { "content-type": "application/json" } });
  }) as typeof globalThis.fetch;
  const store = new DropboxBackupStore({
    tokens: { accessToken: async () => "token", refreshAfterRejection: async () => "token" },
    fetch,
    baseUrl: "http://127.0.0.1:9/fake-dropbox/",
  });
  assert.deepEqual(await store.list("backups"), []);
  assert.deepEqual(seen, ["http://127.0.0.1:9/fake-dropbox/2/files/list_folder"]);
});

test("onDropboxBase: only Dropbox's hosts move; without a base nothing does", () => {
  const base = new URL("http://127.0.0.1:9/p");
  assert.equal(onDropboxBase(new URL("https://content.dropboxapi.com/2/files/download?arg=1"), base).href, "http://127.0.0.1:9/p/2/files/download?arg=1");
  const other = new URL("https://uisp.example.test/nms/api/v2.1/backups");
  assert.equal(onDropboxBase(other, base), other);
  const dropbox = new URL("https://api.dropboxapi.com/oauth2/token");
  assert.equal(onDropboxBase(dropbox, undefined), dropbox);
});
