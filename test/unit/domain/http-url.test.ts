import { test } from "node:test";
import assert from "node:assert/strict";
import { checkHttpUrl } from "../../../src/domain/http-url.ts";

test("absolute http and https URLs pass, with the parsed URL", () => {
  for (const text of ["https://uisp.example.com/nms", "http://10.0.0.5:8081/nms/", "HTTPS://Host"]) {
    const checked = checkHttpUrl(text);
    assert.ok(checked.ok, text);
    assert.ok(checked.url.protocol === "http:" || checked.url.protocol === "https:");
  }
});

test("text that is no absolute URL is not-a-url", () => {
  for (const text of ["", "uisp.example.com/nms", "/nms", "http//x"]) assert.deepEqual(checkHttpUrl(text), { ok: false, problem: "not-a-url" }, text);
});

test("another scheme is not-http, with the URL so the caller can name the scheme", () => {
  const checked = checkHttpUrl("ftp://uisp.example.com/nms");
  assert.equal(checked.ok, false);
  assert.ok(!checked.ok && checked.problem === "not-http" && checked.url.protocol === "ftp:");
});
