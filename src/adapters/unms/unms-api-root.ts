import { configError } from "../../domain/errors.ts";
import { checkHttpUrl } from "../../domain/http-url.ts";

const URL_SETTING = "the UNMS URL setting (unmsUrl / UNMS_URL; in UCRM, unmsLocalUrl of ucrm.json)";

/**
 * The API root `${baseUrl}/api/v2.1` for an NMS base URL such as `https://uisp.example.com/nms` or
 * `http://unms:8081/nms/`. A URL that already ends in `/api/v2.1` is accepted as is, since people
 * paste the API address as often as the NMS one.
 * @throws SyncError of kind `config` naming the setting when the URL is not usable.
 */
export function unmsApiRoot(baseUrl: string): string {
  const trimmed = baseUrl.trim();
  if (trimmed === "") {
    throw configError(`${capitalize(URL_SETTING)} is empty: set it to the NMS address, e.g. https://uisp.example.com/nms.`, "config.unms_url");
  }
  const checked = checkHttpUrl(trimmed);
  if (!checked.ok && checked.problem === "not-a-url") {
    throw configError(
      `${capitalize(URL_SETTING)} is not a URL ("${trimmed.slice(0, 200)}"): set it to the NMS address, e.g. https://uisp.example.com/nms.`,
      "config.unms_url",
    );
  }
  if (!checked.ok) {
    const url = checked.url;
    throw configError(
      `${capitalize(URL_SETTING)} must be an http:// or https:// address, not ${url.protocol}//${url.host}${url.pathname}: ` +
        "set it to the NMS address, e.g. https://uisp.example.com/nms.",
      "config.unms_url",
    );
  }
  const url = checked.url;
  if (url.username || url.password) {
    // fetch refuses such URLs, and a password has no business in a log line.
    throw configError(
      `${capitalize(URL_SETTING)} contains a user name or password (${url.protocol}//…@${url.host}): remove it; UNMS authenticates with the API token.`,
      "config.unms_url",
    );
  }
  const path = url.pathname.replace(/\/+$/, "").replace(/\/api\/v2\.1$/i, "");
  return `${url.origin}${path}/api/v2.1`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
