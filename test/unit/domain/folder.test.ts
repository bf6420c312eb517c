import { test } from "node:test";
import assert from "node:assert/strict";
import { FOLDER_RULE, folderSegments, parseFolder, ROOT_FOLDER } from "../../../src/domain/folder.ts";

test("slashes at either end and surrounding spaces are dropped; inner spaces and Unicode stay", () => {
  assert.deepEqual(parseFolder(" /Off site/UISP Ünïcode/ "), { folder: "Off site/UISP Ünïcode" });
  assert.deepEqual(parseFolder("///a/b///"), { folder: "a/b" });
});

test("empty text, or only slashes, is the root", () => {
  for (const text of ["", "   ", "/", "//"]) assert.deepEqual(parseFolder(text), { folder: ROOT_FOLDER }, JSON.stringify(text));
});

test("an empty, '.' or '..' segment is refused, with the normalized text for the message", () => {
  for (const [text, normalized] of [["a//b", "a//b"], ["/a/./b/", "a/./b"], ["../x", "../x"], ["a/ .. /b", "a/ .. /b"], [".", "."]] as const) {
    assert.deepEqual(parseFolder(text), { problem: FOLDER_RULE, normalized }, text);
  }
});

test("names that only contain dots are fine", () => {
  assert.deepEqual(parseFolder("a/.../b..c/.hidden"), { folder: "a/.../b..c/.hidden" });
});

test("segments of a folder: none for the root", () => {
  const folder = parseFolder("a/b c");
  assert.ok("folder" in folder);
  assert.deepEqual(folderSegments(folder.folder), ["a", "b c"]);
  assert.deepEqual(folderSegments(ROOT_FOLDER), []);
});
