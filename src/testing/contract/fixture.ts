import { test } from "node:test";

/**
 * Registers a test that gets a fresh fixture from `setup` and always tears it down, so one failing
 * case never leaks state (servers, folders) into the next. Shared by every contract suite.
 */
export function fixtureTest<F extends { teardown?(): Promise<void> }>(
  setup: () => Promise<F>,
): (title: string, body: (fixture: F) => Promise<void>) => Promise<void> {
  return (title: string, body: (fixture: F) => Promise<void>) =>
    test(title, async () => {
      const fixture = await setup();
      try {
        await body(fixture);
      } finally {
        await fixture.teardown?.();
      }
    });
}
