import { test } from "node:test";
import assert from "node:assert/strict";
import { FOLDER_RULE, folderSegments, MAX_FOLDER_NAME_CHARS, parseFolder, ROOT_FOLDER } from "../../../src/domain/folder.ts";

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

test("names with dots inside or in front are fine", () => {
  assert.deepEqual(parseFolder("a/b..c/.hidden/x.y"), { folder: "a/b..c/.hidden/x.y" });
});

test("a name of 255 characters (code points, not bytes) is fine; 256 is refused with its length", () => {
  const ok = "ü".repeat(MAX_FOLDER_NAME_CHARS);
  assert.deepEqual(parseFolder(`site/${ok}`), { folder: `site/${ok}` });
  const result = parseFolder(`site/${"x".repeat(256)}/b`);
  assert.ok("problem" in result);
  assert.match(result.problem, /is 256 characters long; Dropbox allows at most 255 per name/);
  assert.ok(result.problem.length < 200, "the message shows a shortened name");
});

test("every character Dropbox refuses is named in the problem", () => {
  for (const c of ["\\", ":", "?", "*", '"', "<", ">", "|"]) {
    const result = parseFolder(`site/a${c}b`);
    assert.ok("problem" in result, c);
    assert.match(result.problem, new RegExp(`contains "${c.replace(/[\\*?|]/g, "\\$&")}"`), c);
  }
  for (const c of ["\u0000", "\t", "\n", "\u007f"]) {
    const result = parseFolder(`a${c}b`);
    assert.ok("problem" in result && result.problem.includes("contains a control character"), JSON.stringify(c));
  }
});

test("a trailing dot or space, a leading space and Dropbox's refused names are refused", () => {
  const cases: [string, RegExp][] = [
    ["site/name.", /ends with a dot/],
    ["site/name /x", /ends with a space/],
    ["site/ name", /starts with a space/],
    ["Desktop.ini", /a name Dropbox refuses to store/],
    ["a/.DS_Store", /a name Dropbox refuses to store/],
    [".dropbox", /a name Dropbox refuses to store/],
  ];
  for (const [text, expected] of cases) {
    const result = parseFolder(text);
    assert.ok("problem" in result, text);
    assert.match(result.problem, expected, text);
  }
});

test("segments of a folder: none for the root", () => {
  const folder = parseFolder("a/b c");
  assert.ok("folder" in folder);
  assert.deepEqual(folderSegments(folder.folder), ["a", "b c"]);
  assert.deepEqual(folderSegments(ROOT_FOLDER), []);
});
