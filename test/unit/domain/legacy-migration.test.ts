import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  decideLegacy,
  legacyDeprecationWarning,
  legacyRejectedMessage,
  migrationSteps,
} from "../../../src/domain/legacy-migration.ts";
import { ENV_LABELS, UCRM_LABELS } from "./setting-labels.ts";

describe("decideLegacy()", () => {
  const cases: [string, Parameters<typeof decideLegacy>[0], ReturnType<typeof decideLegacy>][] = [
    ["no legacy token", { hasLegacyToken: false, hasAppKey: true, hasRefreshToken: true, hasAccessCode: true }, { action: "none" }],
    ["legacy only", { hasLegacyToken: true, hasAppKey: false, hasRefreshToken: false, hasAccessCode: false }, { action: "use-legacy", offerAuthorization: false }],
    ["legacy, code but no app key", { hasLegacyToken: true, hasAppKey: false, hasRefreshToken: false, hasAccessCode: true }, { action: "use-legacy", offerAuthorization: false }],
    ["legacy + app key", { hasLegacyToken: true, hasAppKey: true, hasRefreshToken: false, hasAccessCode: false }, { action: "use-legacy", offerAuthorization: true }],
    ["legacy + app key + code", { hasLegacyToken: true, hasAppKey: true, hasRefreshToken: false, hasAccessCode: true }, { action: "exchange-then-clear" }],
    ["legacy + app key + refresh token", { hasLegacyToken: true, hasAppKey: true, hasRefreshToken: true, hasAccessCode: false }, { action: "clear-legacy" }],
  ];
  for (const [name, inputs, expected] of cases) {
    test(`decideLegacy(): ${name}`, () => assert.deepEqual(decideLegacy(inputs), expected));
  }
});

describe("legacy messages", () => {
  test("migrationSteps() names the settings of the store in use", () => {
    assert.match(migrationSteps(UCRM_LABELS), /dropboxAppKey.*dropboxAppSecret.*dropboxAccessCode.*dropboxAccessToken/);
    assert.match(migrationSteps(ENV_LABELS), /DROPBOX_APP_KEY.*DROPBOX_APP_SECRET.*DROPBOX_ACCESS_CODE.*DROPBOX_ACCESS_TOKEN/);
  });

  test("the deprecation warning lists steps unless the URL is offered right away", () => {
    assert.match(legacyDeprecationWarning(ENV_LABELS, false), /deprecated.*To migrate:/);
    const offering = legacyDeprecationWarning(ENV_LABELS, true);
    assert.match(offering, /open the authorization URL below/);
    assert.doesNotMatch(offering, /To migrate:/);
  });

  test("legacyRejectedMessage() says Dropbox rejected the token, why, and what to do", () => {
    assert.match(legacyRejectedMessage(ENV_LABELS, "invalid_access_token", false), /^Dropbox rejected the legacy access token \(DROPBOX_ACCESS_TOKEN\): invalid_access_token\..*To migrate:/);
    assert.match(legacyRejectedMessage(UCRM_LABELS, "expired_access_token", true), /paste the code into dropboxAccessCode/);
  });
});
