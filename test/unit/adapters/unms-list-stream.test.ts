/**
 * The streamed parse of UNMS's backup list (BackupListReader over JsonArraySplitter) gives exactly
 * what parsing the whole text gives (parseJsonBody + parseBackupList), backups and problems alike,
 * however the body is cut into pieces.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { JsonArraySplitter, JsonArraySyntaxError } from "../../../src/adapters/unms/json-array-splitter.ts";
import { BackupListReader, parseBackupList, parseJsonBody } from "../../../src/adapters/unms/unms-parse.ts";

const G1 = "7f3c2a10-0000-4000-8000-000000000001";
const G2 = "7f3c2a10-0000-4000-8000-000000000002";

const BODIES: Record<string, string> = {
  "two backups": JSON.stringify([
    { id: G1, createdAt: "2024-05-01T10:00:00Z", state: "success", size: 10, origin: "auto", extra: { nested: [1, { a: "]" }] } },
    { id: G2, createdAt: "2024-05-02T10:00:00Z", state: "success", size: 20 },
  ]),
  "strings with brackets, commas, quotes and escapes": `[ {"id":"${G1}","createdAt":"2024-05-01T10:00:00Z","state":"success","note":"a \\"]\\" , [ { \\\\"} ,
    {"id":"${G2}","createdAt":"2024-05-02T10:00:00Z","state":"success","name":"zoë ✓ 🙂"} ]`,
  "an empty list": " [ ] ",
  "odd items (item N of M)": JSON.stringify([
    { id: G1, createdAt: "2024-05-01T10:00:00Z", state: "success" },
    null,
    { createdAt: "2024-05-01T10:00:00Z", state: "success" },
    { id: G2, createdAt: "yesterday", state: "success", size: "big" },
    { id: G2, state: "in-progress", createdAt: null },
    7,
    "text",
    [],
  ]),
  "a size that is not a byte count": JSON.stringify([{ id: G1, createdAt: "2024-05-01T10:00:00Z", state: "success", size: -1 }]),
  "an object": `{"backups": []}`,
  "a string": `"backups"`,
  "an HTML page": "<html><head><title>Login</title></head><body>please log in</body></html>",
  "a blank body": "   \n ",
  "truncated": `[{"id":"${G1}","createdAt":"2024-05-01T10:00:00Z","state":"success"}, {"id":`,
  "a trailing comma": `[{"id":"${G1}"},]`,
  "a missing value": `[1,,2]`,
  "a leading comma": `[,1]`,
  "two values without a comma": `[1 2]`,
  "something after the list": `[1] x`,
  "a broken item": `[{"id": }]`,
  "an unmatched brace": `[1}]`,
  "nested lists": `[[1,[2]],{"a":[{}]}]`,
};

function whole(text: string) {
  const body = parseJsonBody(text, "application/json");
  return body.ok ? parseBackupList(body.value) : body;
}

function streamed(text: string, pieceLength: number) {
  const reader = new BackupListReader("application/json");
  for (let at = 0; at < text.length; at += pieceLength) reader.push(text.slice(at, at + pieceLength));
  return reader.end();
}

describe("BackupListReader: the backup list parsed as it arrives", () => {
  for (const [label, text] of Object.entries(BODIES)) {
    test(`${label}: same result as parsing the whole text, in pieces of 1, 2, 3, 7, 64 characters and whole`, () => {
      const expected = whole(text);
      for (const pieceLength of [1, 2, 3, 7, 64, text.length || 1]) {
        assert.deepEqual(streamed(text, pieceLength), expected, `pieces of ${pieceLength}`);
      }
    });
  }

  test("the problems name the item and the count, as before", () => {
    const result = streamed(BODIES["odd items (item N of M)"]!, 5);
    assert.ok(result.ok);
    assert.equal(result.value[1]!.id, "(item 2 of 8)");
    assert.match(result.value[1]!.unusable ?? "", /UNMS listed item 2 of 8 as null, not a backup object/);
    assert.match(result.value[3]!.unusable ?? "", /its createdAt "yesterday" is not an ISO-8601 date/);
    assert.ok(!JSON.stringify(result.value).includes("\u0000"));
  });

  test("not JSON: the problem quotes the start of the body and its content type", () => {
    const result = streamed(BODIES["an HTML page"]!, 4);
    assert.deepEqual(result, { ok: false, problem: `a body that is not JSON (content-type application/json, starting "<html><head><title>Login</title></head><body>please log in</")` });
    assert.deepEqual(streamed(BODIES["an object"]!, 3), { ok: false, problem: "a JSON object where a list of backups was expected" });
    assert.deepEqual(streamed("", 1), { ok: false, problem: "an empty body where JSON was expected" });
  });
});

describe("JsonArraySplitter", () => {
  test("hands over each element's text once complete, holding no more than one", () => {
    const seen: string[] = [];
    const splitter = new JsonArraySplitter((text) => seen.push(text.trim()));
    for (const piece of ['[ {"a": "x,]"}', ', 2 ,[3,', "4] , \"s\\\"\" ]  "]) splitter.push(piece);
    assert.equal(splitter.end(), 4);
    assert.deepEqual(seen, ['{"a": "x,]"}', "2", "[3,4]", '"s\\""']);
  });

  test("says what is wrong and where", () => {
    const fail = (text: string) => {
      const splitter = new JsonArraySplitter(() => undefined);
      try {
        splitter.push(text);
        splitter.end();
      } catch (error) {
        assert.ok(error instanceof JsonArraySyntaxError);
        return error.message;
      }
      return "no error";
    };
    assert.equal(fail("[1,]"), "a value is missing before character 4");
    assert.equal(fail("[1] ]"), "something follows the end of the list (character 5)");
    assert.equal(fail("[1, 2"), 'it ends after 5 characters, inside the list (no closing "]")');
    assert.equal(fail(" {}"), 'it does not start with "[" (character 2)');
    assert.equal(fail(""), "it is blank");
  });
});
