/**
 * The one check of an absolute http(s) URL (UNMS address, the library's unms.url, the test-only
 * Dropbox base URL). Callers word the message, since each names its own setting and some must not
 * quote the text (it may carry credentials).
 */
export type HttpUrlCheck = { ok: true; url: URL } | { ok: false; problem: "not-a-url" } | { ok: false; problem: "not-http"; url: URL };

export function checkHttpUrl(text: string): HttpUrlCheck {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: "not-a-url" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { ok: false, problem: "not-http", url };
  return { ok: true, url };
}
