import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UnmsBackupSource } from "../../../src/adapters/unms/unms-backup-source.ts";
import type { UnmsBackupSourceOptions } from "../../../src/adapters/unms/unms-backup-source.ts";
import type { ScheduleTimeout } from "../../../src/adapters/unms/request-deadline.ts";
import { describeError, SyncError } from "../../../src/domain/errors.ts";
import type { ByteStream } from "../../../src/domain/ports.ts";
import { FakeUnms } from "../../../src/testing/fakes/unms.ts";
import { mswServerForThisFile } from "../../msw-server.ts";

const TOKEN = "unit-secret-token-4f9a";
const WRONG_TOKEN = "wrong-secret-token-77b1";
const BASE = "http://unms.test:8081/nms";
const G1 = "3f1c2a9e-0000-4000-8000-0000000000a1";
const G2 = "3f1c2a9e-0000-4000-8000-0000000000a2";

const server = mswServerForThisFile();

function fakeUnms(options: { timezone?: string | null } = {}): FakeUnms {
  const unms = new FakeUnms({ apiToken: TOKEN, ...options });
  server.resetHandlers(...unms.handlers);
  return unms;
}

function source(options: Partial<UnmsBackupSourceOptions> = {}): UnmsBackupSource {
  return new UnmsBackupSource({ baseUrl: BASE, apiToken: TOKEN, ...options });
}

/** A fetch that answers every request with `respond`, recording the URLs asked. */
function stubFetch(respond: (request: Request) => Response | Promise<Response>): typeof fetch & { urls: string[] } {
  const urls: string[] = [];
  const stub = async (input: RequestInfo | URL) => {
    const request = input instanceof Request ? input : new Request(input);
    urls.push(request.url);
    return respond(request);
  };
  return Object.assign(stub as typeof fetch, { urls });
}

/** Timers fired by hand, so timeouts are tested without waiting. */
function manualTimers(): ScheduleTimeout & { fire(): void; pending(): number } {
  const timers = new Set<() => void>();
  const schedule: ScheduleTimeout = (onTimeout) => {
    timers.add(onTimeout);
    return () => timers.delete(onTimeout);
  };
  return Object.assign(schedule, {
    fire() {
      const due = [...timers];
      timers.clear();
      for (const onTimeout of due) onTimeout();
    },
    pending: () => timers.size,
  });
}

async function failure(run: () => Promise<unknown>): Promise<SyncError> {
  try {
    await run();
  } catch (error) {
    assert.ok(SyncError.is(error), `expected a SyncError, got ${describeError(error)}`);
    assertNoSecret(error);
    return error;
  }
  assert.fail("expected a failure, got success");
}

function assertNoSecret(error: SyncError): void {
  const everything = `${error.message} ${describeError(error)} ${error.stack ?? ""} ${describeError(error.cause)}`;
  for (const secret of [TOKEN, WRONG_TOKEN]) {
    assert.ok(!everything.includes(secret), `error text contains a token: ${error.message}`);
    assert.ok(!everything.includes(secret.slice(0, 8)), `error text contains a token prefix: ${error.message}`);
  }
}

async function drain(stream: ByteStream): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

describe("UnmsBackupSource error mapping", () => {
  test("a wrong token gives unauthorized with a message naming UNMS, HTTP 401 and the setting", async () => {
    fakeUnms();
    const error = await failure(() => source({ apiToken: WRONG_TOKEN }).list());
    assert.equal(error.kind, "unauthorized");
    assert.equal(error.code, "unms.unauthorized");
    assert.equal(error.status, 401);
    // UNMS's error body needs only statusCode and error; the fake sends no message, as UNMS may.
    assert.match(error.message, /^UNMS refused the API token \(HTTP 401 Unauthorized on GET nms\/backups\): /);
    assert.match(error.message, /check the UNMS API token setting \(unmsApiToken \/ UNMS_API_TOKEN\)/);
    assert.match(error.message, /Network -> Settings -> Users\.$/);
  });

  test("401 on download and settings name those endpoints", async () => {
    const unms = fakeUnms();
    const backup = unms.addBackup();
    const wrong = source({ apiToken: WRONG_TOKEN });
    const download = await failure(() => wrong.open(backup.id));
    assert.equal(download.kind, "unauthorized");
    assert.match(download.message, new RegExp(`on GET nms/backups/${backup.id}`));
    const settings = await failure(() => wrong.timeZone());
    assert.equal(settings.kind, "unauthorized");
    assert.match(settings.message, /on GET nms\/settings/);
  });

  test("403 is unauthorized too and mentions the token's permissions", async () => {
    const unms = fakeUnms();
    unms.injectFault("list", { type: "status", status: 403 });
    const error = await failure(() => source().list());
    assert.equal(error.kind, "unauthorized");
    assert.equal(error.status, 403);
    assert.match(error.message, /HTTP 403 Forbidden on GET nms\/backups/);
    assert.match(error.message, /may manage backups/);
  });

  test("a token echoed in UNMS's own message is redacted", async () => {
    const unms = fakeUnms();
    unms.injectFault("list", {
      type: "status",
      status: 401,
      body: { statusCode: 401, error: "Unauthorized", message: `Token ${TOKEN} expired` },
    });
    const error = await failure(() => source().list());
    assert.match(error.message, /UNMS says "Token \[redacted\] expired"/);
  });

  test("an unknown backup id is not-found naming the id", async () => {
    fakeUnms();
    const error = await failure(() => source().open("gone-backup"));
    assert.equal(error.kind, "not-found");
    assert.equal(error.code, "unms.backup_not_found");
    assert.match(error.message, /UNMS has no backup "gone-backup" \(HTTP 404 Not Found on GET nms\/backups\/gone-backup; UNMS says "Backup gone-backup not found\."\)/);
  });

  test("5xx is transient and names the host and path", async () => {
    const unms = fakeUnms();
    unms.injectFault("list", { type: "status", status: 503 });
    const error = await failure(() => source().list());
    assert.equal(error.kind, "transient");
    assert.equal(error.code, "unms.server_error");
    assert.equal(error.status, 503);
    assert.match(error.message, /unms\.test:8081\/nms\/api\/v2\.1\/nms\/backups/);
    assert.match(error.message, /HTTP 503 Service Unavailable/);
    // The fault was used once: the next call succeeds.
    assert.deepEqual(await source().list(), []);
  });

  test("429 is rate-limited with the Retry-After delay", async () => {
    const unms = fakeUnms();
    unms.injectFault("list", { type: "status", status: 429, headers: { "retry-after": "7" } });
    const error = await failure(() => source().list());
    assert.equal(error.kind, "rate-limited");
    assert.equal(error.code, "unms.rate_limited");
    assert.equal(error.retryAfterMs, 7000);
  });

  test("another 4xx is permanent", async () => {
    const unms = fakeUnms();
    unms.injectFault("settings", { type: "status", status: 400 });
    const error = await failure(() => source().timeZone());
    assert.equal(error.kind, "permanent");
    assert.equal(error.code, "unms.request_rejected");
    assert.match(error.message, /HTTP 400 Bad Request on GET nms\/settings/);
  });

  test("a redirect is not followed (the token would go along) and names the target", async () => {
    const fetch = stubFetch(() => new Response(null, { status: 301, headers: { location: "https://uisp.example.com/nms/api/v2.1/nms/backups?x=1" } }));
    const error = await failure(() => source({ fetch }).list());
    assert.equal(error.kind, "config");
    assert.equal(error.code, "unms.redirected");
    assert.match(error.message, /to https:\/\/uisp\.example\.com\/nms\/api\/v2\.1\/nms\/backups:/);
    assert.equal(fetch.urls.length, 1);
  });

  test("a network failure is transient, names the host and path and the socket error", async () => {
    const fetch = stubFetch(() => {
      const cause = Object.assign(new Error("connect ECONNREFUSED 10.0.0.9:8081"), { code: "ECONNREFUSED" });
      throw new TypeError("fetch failed", { cause });
    });
    const error = await failure(() => source({ fetch }).list());
    assert.equal(error.kind, "transient");
    assert.equal(error.code, "unms.unreachable");
    assert.match(error.message, /Could not reach UNMS for GET nms\/backups at unms\.test:8081\/nms\/api\/v2\.1\/nms\/backups: fetch failed: connect ECONNREFUSED/);
  });

  test("no answer within timeoutMs is transient unms.timeout", async () => {
    const timers = manualTimers();
    const fetch = stubFetch(
      (request) =>
        new Promise<Response>((_, reject) => request.signal.addEventListener("abort", () => reject(request.signal.reason))),
    );
    const pending = failure(() => source({ fetch, timeoutMs: 5000, scheduleTimeout: timers }).list());
    await until(() => fetch.urls.length === 1);
    timers.fire();
    const error = await pending;
    assert.equal(error.kind, "transient");
    assert.equal(error.code, "unms.timeout");
    assert.match(error.message, /did not answer GET nms\/backups at unms\.test:8081\/nms\/api\/v2\.1\/nms\/backups within 5 s/);
    assert.equal(timers.pending(), 0, "no timer left behind");
  });

  test("a caller's abort is passed through as is, not turned into a SyncError", async () => {
    fakeUnms();
    const controller = new AbortController();
    const reason = new Error("run cancelled");
    controller.abort(reason);
    await assert.rejects(source().list(controller.signal), (error) => error === reason);
  });
});

describe("UnmsBackupSource.list()", () => {
  test("returns the swagger's UnmsBackup fields we use, tolerating extra ones", async () => {
    const fetch = stubFetch(() =>
      Response.json([
        { id: G1, state: "success", createdAt: "2024-05-01T10:00:00Z", size: 1234, origin: "manual", compatible: true, unmsVersion: { major: 2, minor: 4, patch: 211 }, name: "x" },
        { id: G2, state: "in-progress", createdAt: "2024-05-02T10:00:00.000+02:00", size: "big" },
      ]),
    );
    assert.deepEqual(await source({ fetch }).list(), [
      { id: G1, createdAt: "2024-05-01T10:00:00Z", state: "success", size: 1234, origin: "manual" },
      { id: G2, createdAt: "2024-05-02T10:00:00.000+02:00", state: "in-progress" },
    ]);
  });

  test("items that are not success are passed on before any other field is checked (createdAt: null is fine)", async () => {
    const fetch = stubFetch(() =>
      Response.json([
        { id: G1, state: "failed", createdAt: null, size: null, origin: "auto", compatible: false, unmsVersion: null },
        { state: "in-progress" },
        { id: G2, state: "success", createdAt: "2024-05-01T10:00:00Z", size: 10, origin: "auto", compatible: true, unmsVersion: { major: 2, minor: 4, patch: 211 } },
      ]),
    );
    const listed = await source({ fetch }).list();
    assert.deepEqual(listed, [
      { id: G1, createdAt: "", state: "failed", origin: "auto" },
      { id: "(item 2 of 3)", createdAt: "", state: "in-progress" },
      { id: G2, createdAt: "2024-05-01T10:00:00Z", state: "success", size: 10, origin: "auto" },
    ]);
  });

  test("a success item whose size is not a byte count keeps the backup, size unknown, with a warning naming it", async () => {
    const fetch = stubFetch(() => Response.json([{ id: G1, state: "success", createdAt: "2024-05-01T10:00:00Z", size: -5 }]));
    const [backup] = await source({ fetch }).list();
    assert.equal(backup!.size, undefined);
    assert.equal(backup!.unusable, undefined);
    assert.match(backup!.warning ?? "", new RegExp(`backup ${G1} with size -5, not a byte count; its size is treated as unknown`));
  });

  const oddItems: [string, unknown, string, RegExp][] = [
    ["an item without id", { createdAt: "2024-05-01T10:00:00Z", state: "success" }, "(item 2 of 2)", /^it has no id$/],
    ["an empty id", { id: " ", createdAt: "2024-05-01T10:00:00Z", state: "success" }, "(item 2 of 2)", /its id is " ", expected a guid/],
    ["a numeric id", { id: 7, createdAt: "2024-05-01T10:00:00Z", state: "success" }, "(item 2 of 2)", /its id is 7, expected a guid/],
    ["a bad date", { id: G2, createdAt: "yesterday", state: "success" }, G2, /its createdAt "yesterday" is not an ISO-8601 date/],
    ["a null date", { id: G2, createdAt: null, state: "success" }, G2, /it has no createdAt/],
    ["no state", { id: G2, createdAt: "2024-05-01T10:00:00Z" }, G2, /item 2 of 2 has no state/],
    ["a null item", null, "(item 2 of 2)", /UNMS listed item 2 of 2 as null, not a backup object/],
  ];
  for (const [what, item, label, reason] of oddItems) {
    test(`${what} is marked unusable by id and the other items still list`, async () => {
      const good = { id: G1, state: "success", createdAt: "2024-05-01T10:00:00Z", size: 3 };
      const fetch = stubFetch(() => Response.json([good, item]));
      const [first, odd] = await source({ fetch }).list();
      assert.deepEqual(first, { id: G1, createdAt: good.createdAt, state: "success", size: 3 });
      assert.equal(odd!.id, label);
      assert.match(odd!.unusable ?? "", reason);
    });
  }

  test("a non-JSON body is a malformed-response error naming the endpoint", async () => {
    const unms = fakeUnms();
    unms.injectFault("list", { type: "non-json" });
    const error = await failure(() => source().list());
    assert.equal(error.kind, "permanent");
    assert.equal(error.code, "unms.malformed_response");
    assert.match(error.message, /^UNMS answered GET nms\/backups at unms\.test:8081\/nms\/api\/v2\.1\/nms\/backups with a body that is not JSON \(content-type text\/html, starting "<html>/);
    assert.match(error.message, /UNMS URL setting/);
  });

  const shapes: [string, unknown, RegExp][] = [
    ["an object instead of a list", { backups: [] }, /a JSON object where a list of backups was expected/],
    ["an empty body", "", /an empty body where JSON was expected/],
  ];
  for (const [what, body, expected] of shapes) {
    test(`${what} is a malformed-response error saying what is wrong`, async () => {
      const fetch = stubFetch(() => new Response(typeof body === "string" ? body : JSON.stringify(body), { headers: { "content-type": "application/json" } }));
      const error = await failure(() => source({ fetch }).list());
      assert.equal(error.code, "unms.malformed_response");
      assert.match(error.message, /GET nms\/backups/);
      assert.match(error.message, expected);
    });
  }
});

describe("UnmsBackupSource.open()", () => {
  test("announces the content-length and streams every byte", async () => {
    const unms = fakeUnms();
    const backup = unms.addBackup({ size: 200_000 });
    const download = await source().open(backup.id);
    assert.equal(download.length, 200_000);
    const chunks: Uint8Array[] = [];
    for await (const chunk of download.stream) chunks.push(chunk);
    assert.deepEqual(Buffer.concat(chunks), Buffer.from(unms.expectedBytes(backup.id)));
  });

  const refused: [string, () => Response, RegExp][] = [
    [
      "a 200 HTML login page",
      () => new Response("<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>…</body></html>", { headers: { "content-type": "text/html; charset=utf-8" } }),
      /answered with content-type text\/html; charset=utf-8, starting "<!DOCTYPE html> <html><head><title>Sign in<\/title>/,
    ],
    ["a 200 JSON message", () => Response.json({ statusCode: 200, error: "none" }), /answered with content-type application\/json/],
    ["a 200 plain text", () => new Response("Service starting", { headers: { "content-type": "text/plain" } }), /content-type text\/plain, starting "Service starting"/],
    ["a 200 with content-length 0", () => new Response(new Uint8Array(0), { headers: { "content-type": "application/octet-stream", "content-length": "0" } }), /an empty body \(content-length 0\)/],
  ];
  for (const [what, respond, detail] of refused) {
    test(`${what} is refused at open(), naming the backup and what came instead`, async () => {
      const error = await failure(() => source({ fetch: stubFetch(respond) }).open(G1));
      assert.equal(error.code, "unms.download_refused");
      assert.equal(error.kind, "permanent");
      assert.match(error.message, new RegExp(`Refused the download of UNMS backup "${G1}" \\(GET nms/backups/${G1} at unms\\.test:8081/nms/api/v2\\.1/nms/backups/${G1}\\)`));
      assert.match(error.message, detail);
      assert.match(error.message, /nothing was stored/);
    });
  }

  test("a 200 with an empty body and no length is refused when the stream ends", async () => {
    const fetch = stubFetch(() => new Response(new Uint8Array(0), { headers: { "content-type": "application/octet-stream" } }));
    const download = await source({ fetch }).open(G1);
    const error = await failure(() => drain(download.stream));
    assert.equal(error.code, "unms.download_refused");
    assert.match(error.message, new RegExp(`backup "${G1}" .*an empty body \\(0 bytes\\)`));
  });

  test("the fake's login page and empty body are refused over msw too", async () => {
    const unms = fakeUnms();
    const backup = unms.addBackup();
    unms.injectFault("download", { type: "login-page" });
    assert.equal((await failure(() => source().open(backup.id))).code, "unms.download_refused");
    unms.injectFault("download", { type: "empty-body" });
    assert.equal((await failure(async () => drain((await source().open(backup.id)).stream))).code, "unms.download_refused");
  });

  test("a body without content-length has no length and still streams", async () => {
    const fetch = stubFetch(() => new Response(new Uint8Array([1, 2, 3]), { headers: { "content-type": "application/octet-stream" } }));
    const download = await source({ fetch }).open("x");
    assert.equal(download.length, undefined);
    assert.equal(await drain(download.stream), 3);
  });

  test("a compressed body's content-length is not taken as its length", async () => {
    const fetch = stubFetch(() => new Response(new Uint8Array(10), { headers: { "content-length": "4", "content-encoding": "gzip" } }));
    const download = await source({ fetch }).open("x");
    assert.equal(download.length, undefined);
  });

  test("a body ending short of its content-length throws source-interrupted naming the id and bytes", async () => {
    const unms = fakeUnms();
    const backup = unms.addBackup({ size: 1_000_000 });
    unms.injectFault("download", { type: "truncate-after", bytes: 300_000 });
    const download = await source().open(backup.id);
    assert.equal(download.length, 1_000_000);
    const error = await failure(() => drain(download.stream));
    assert.equal(error.kind, "source-interrupted");
    assert.equal(error.code, "unms.download_interrupted");
    assert.match(error.message, new RegExp(`The download of UNMS backup "${backup.id}" \\(GET nms/backups/${backup.id}\\) broke off after 300000 of 1000000 bytes: the body ended 700000 bytes short`));
  });

  test("a connection reset mid-body throws source-interrupted naming the id and bytes", async () => {
    const unms = fakeUnms();
    const backup = unms.addBackup({ size: 500_000 });
    unms.injectFault("download", { type: "reset-after", bytes: 131_072 });
    const download = await source().open(backup.id);
    let received = 0;
    const error = await failure(async () => {
      for await (const chunk of download.stream) received += chunk.byteLength;
    });
    assert.equal(error.kind, "source-interrupted");
    assert.equal(error.code, "unms.download_interrupted");
    // A reset drops what was still buffered, so fewer bytes than the fake sent may arrive.
    assert.ok(received > 0 && received <= 131_072, `received ${received}`);
    assert.match(error.message, new RegExp(`UNMS backup "${backup.id}" .* broke off after ${received} of 500000 bytes: the connection broke \\(fake UNMS reset the connection`));
    // The next attempt gets the whole backup.
    assert.equal(await drain((await source().open(backup.id)).stream), 500_000);
  });

  test("a stall longer than timeoutMs throws source-interrupted, while slow consumers are not timed", async () => {
    const timers = manualTimers();
    let push: ((chunk: Uint8Array) => void) | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (chunk) => controller.enqueue(chunk);
      },
    });
    const fetch = stubFetch(() => new Response(body, { headers: { "content-length": "10" } }));
    const download = await source({ fetch, timeoutMs: 30_000, scheduleTimeout: timers }).open("stalled");
    assert.equal(timers.pending(), 0, "no timer runs while nobody reads");
    const iterator = download.stream[Symbol.asyncIterator]();
    push?.(new Uint8Array(4));
    assert.equal((await iterator.next()).value?.byteLength, 4);
    assert.equal(timers.pending(), 0, "no timer runs while the consumer works");
    const next = iterator.next();
    await until(() => timers.pending() === 1);
    timers.fire();
    const error = await failure(() => next);
    assert.equal(error.kind, "source-interrupted");
    assert.match(error.message, /"stalled" .* broke off after 4 of 10 bytes: no data arrived for 30000 ms/);
  });

  test("an id that would change the path is refused before any request", async () => {
    const fetch = stubFetch(() => new Response("unexpected"));
    for (const id of ["", "..", "."]) {
      const error = await failure(() => source({ fetch }).open(id));
      assert.equal(error.code, "unms.invalid_backup_id");
    }
    assert.equal(fetch.urls.length, 0);
  });

  test("ids are percent-encoded into the path", async () => {
    const fetch = stubFetch(() => new Response(new Uint8Array(1)));
    await drain((await source({ fetch }).open("a b/c")).stream);
    assert.deepEqual(fetch.urls, [`${BASE}/api/v2.1/nms/backups/a%20b%2Fc`]);
  });
});

describe("UnmsBackupSource.timeZone()", () => {
  test("returns the NMS time zone", async () => {
    fakeUnms({ timezone: "Asia/Tokyo" });
    assert.equal(await source().timeZone(), "Asia/Tokyo");
  });

  test("returns undefined when the settings carry no timezone", async () => {
    const fetch = stubFetch(() => Response.json({ hostname: "x" }));
    assert.equal(await source({ fetch }).timeZone(), undefined);
  });

  test("throws when the settings endpoint fails, so the caller can fall back and warn", async () => {
    fakeUnms({ timezone: null });
    const error = await failure(() => source().timeZone());
    assert.equal(error.kind, "transient");
    assert.match(error.message, /GET nms\/settings/);
  });

  test("throws on a settings body that is not JSON", async () => {
    const unms = fakeUnms();
    unms.injectFault("settings", { type: "non-json" });
    const error = await failure(() => source().timeZone());
    assert.equal(error.code, "unms.malformed_response");
    assert.match(error.message, /GET nms\/settings/);
  });
});

describe("UnmsBackupSource configuration", () => {
  for (const baseUrl of [
    "http://unms.test:8081/nms",
    "http://unms.test:8081/nms/",
    "http://unms.test:8081/nms//",
    "http://unms.test:8081/nms/api/v2.1/",
  ]) {
    test(`baseUrl ${baseUrl} reaches ${BASE}/api/v2.1/nms/backups`, async () => {
      const fetch = stubFetch(() => Response.json([]));
      await source({ baseUrl, fetch }).list();
      assert.deepEqual(fetch.urls, [`${BASE}/api/v2.1/nms/backups`]);
    });
  }

  test("sends the token in x-auth-token only", async () => {
    const seen: Request[] = [];
    const fetch = stubFetch((request) => {
      seen.push(request);
      return Response.json([]);
    });
    await source({ fetch }).list();
    assert.equal(seen[0]?.headers.get("x-auth-token"), TOKEN);
    assert.ok(!seen[0]?.url.includes(TOKEN));
  });

  for (const [baseUrl, expected] of [
    ["ftp://unms.test/nms", /must be an http:\/\/ or https:\/\/ address, not ftp:\/\/unms\.test\/nms/],
    ["unms.test/nms", /is not a URL \("unms\.test\/nms"\)/],
    ["", /is empty/],
    ["https://admin:hunter2@unms.test/nms", /contains a user name or password/],
  ] as const) {
    test(`baseUrl "${baseUrl}" is a config error naming the setting`, () => {
      const error = (() => {
        try {
          source({ baseUrl });
        } catch (caught) {
          return caught;
        }
        assert.fail("expected a config error");
      })();
      assert.ok(SyncError.is(error));
      assert.equal(error.kind, "config");
      assert.equal(error.code, "config.unms_url");
      assert.match(error.message, /UNMS URL setting \(unmsUrl \/ UNMS_URL/);
      assert.match(error.message, expected);
      assert.ok(!error.message.includes("hunter2"));
    });
  }

  test("an empty or unusable token is a config error that does not echo it", () => {
    for (const apiToken of ["  ", "abc def\n"]) {
      assert.throws(
        () => source({ apiToken }),
        (error: unknown) =>
          SyncError.is(error) && error.code === "config.unms_api_token" && /unmsApiToken/.test(error.message) && !error.message.includes("abc def"),
      );
    }
  });
});

/** Lets pending promise callbacks run until `condition` holds (no real time passes). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), "condition never became true");
}

test("a list answer too large for the runtime to read: a specific error, not 'Could not reach UNMS'", async () => {
  // What undici's text() rejects with past V8's string limit (about 512 MiB), raised while the body is read.
  const tooLong = Object.assign(new Error("Cannot create a string longer than 0x1fffffe8 characters"), { code: "ERR_STRING_TOO_LONG" });
  const fetch = stubFetch(() => new Response(new ReadableStream({ pull: (controller) => controller.error(tooLong) }), { headers: { "content-type": "application/json" } }));
  const error = await source({ fetch }).list().then(
    () => assert.fail("the list was read"),
    (e: unknown) => e,
  );
  assert.ok(SyncError.is(error), String(error));
  assert.equal(error.code, "unms.response_too_large");
  assert.equal(error.kind, "permanent");
  assert.match(error.message, /^UNMS answered GET nms\/backups at .* but the answer is too large for this runtime to read \(Cannot create a string longer than 0x1fffffe8 characters\)\. UNMS was reached; nothing was uploaded or deleted\./);
  assert.doesNotMatch(error.message, /Could not reach UNMS/);
});

