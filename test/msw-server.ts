/**
 * The msw server of one test file: listening for the whole file (a request no handler answers
 * fails the test), handlers reset after each test, closed at the end; mocked responses' copies
 * are discarded so large fake downloads are not held twice.
 */
import { after, afterEach, before } from "node:test";
import { setupServer, type SetupServerApi } from "msw/node";
import { discardMockedResponseCopies } from "../src/testing/fakes/unms.ts";

export function mswServerForThisFile(): SetupServerApi {
  const server = setupServer();
  discardMockedResponseCopies(server);
  before(() => server.listen({ onUnhandledRequest: "error" }));
  afterEach(() => server.resetHandlers());
  after(() => server.close());
  return server;
}
