/**
 * One list of Dropbox permissions everywhere: the message of an unconfigured run, the README, the
 * plugin README and the UCRM form's help name exactly DROPBOX_PERMISSIONS, and never ask for more.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DROPBOX_PERMISSIONS, DROPBOX_RESTORE_PERMISSION } from "../../../src/domain/dropbox-permissions.ts";
import { dropboxSetupProblem } from "../../../src/domain/token-lifecycle.ts";

/** A scope name, not part of a path or file name (`scripts/test-files.mjs` names no scope). */
const SCOPE = /(?<![\w./-])(?:files|sharing|account_info|file_requests|contacts)\.[a-z_.]+[a-z]\b/g;
const labels = { appKey: "K", appSecret: "S", accessCode: "C", refreshToken: "R", legacyToken: "L" };

function scopesIn(text: string): string[] {
  return [...new Set(text.match(SCOPE) ?? [])].sort();
}

test("the not-configured message names exactly the permission list", () => {
  assert.deepEqual(scopesIn(dropboxSetupProblem({}, labels)!.message), [...DROPBOX_PERMISSIONS].sort());
});

test("README, plugin README and the UCRM form ask for exactly the same permissions (plus the one restore needs, where restore is offered)", () => {
  const offersRestore: Record<string, boolean> = { "README.md": true, "plugin/README.md": false, "plugin/manifest.json": true };
  for (const [path, restore] of Object.entries(offersRestore)) {
    const text = readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");
    // A sentence that says a permission is NOT needed is not a request for it.
    const asked = text.replace(/`files\.content\.read` is not needed[^.]*\./g, "");
    assert.deepEqual(scopesIn(asked), [...DROPBOX_PERMISSIONS, ...(restore ? [DROPBOX_RESTORE_PERMISSION] : [])].sort(), path);
  }
});
