/**
 * Malformed config and state files are reported at the true line and column of the first bad
 * character (current V8 names a position for most early endings, which once made every error
 * "line 1, column 1"), and never with the file's text, which may hold secrets.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseJsonObject } from "../../../src/adapters/config/atomic-file.ts";

function problem(content: string): string {
  const parsed = parseJsonObject(content);
  assert.ok("problem" in parsed, `expected ${JSON.stringify(content)} to be rejected`);
  return parsed.problem;
}

test("a bad token on a later line is named by its own line and column", () => {
  const content = '{\n  "unmsUrl": "https://uisp.example",\n  "unmsApiToken": secret-123\n}\n';
  assert.equal(problem(content), "it is not valid JSON (syntax error at line 3, column 19)");
});

test("a missing comma between members points at the second member", () => {
  const content = '{\n  "a": 1\n  "b": 2\n}';
  assert.equal(problem(content), "it is not valid JSON (syntax error at line 3, column 3)");
});

test("a bad character at the very start is line 1, column 1", () => {
  assert.equal(problem("x{}"), "it is not valid JSON (syntax error at line 1, column 1)");
});

for (const truncated of ['{"a": 1', '{"a": "abc', '{"a": 1.', '{"a": -', '{"a"', "{", '{"a": tr', "[1,"]) {
  test(`text that only ends early (${truncated}) says so, whatever V8's wording`, () => {
    assert.equal(problem(truncated), "it is not valid JSON (the text ends early: a closing bracket or quote is missing)");
  });
}

test("the problem never quotes the text", () => {
  assert.doesNotMatch(problem('{"token": "tok-SECRET" oops}'), /SECRET|oops/);
});
