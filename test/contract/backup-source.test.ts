import { after, before } from "node:test";
import { setupServer } from "msw/node";
import { UnmsBackupSource } from "../../src/adapters/unms/unms-backup-source.ts";
import { discardMockedResponseCopies, FakeUnms } from "../../src/testing/fakes/unms.ts";
import { backupSourceContract } from "../../src/testing/contract/backup-source.ts";

const server = setupServer();
discardMockedResponseCopies(server);
before(() => server.listen({ onUnhandledRequest: "error" }));
after(() => server.close());

backupSourceContract("UnmsBackupSource over FakeUnms (msw)", async () => {
  const apiToken = "contract-test-token";
  const unms = new FakeUnms({ apiToken, timezone: "America/New_York" });
  server.resetHandlers(...unms.handlers);
  return {
    source: new UnmsBackupSource({ baseUrl: "http://unms.test:8081/nms/", apiToken }),
    seed(backups) {
      for (const backup of backups) unms.addBackup(backup);
    },
    expectedSha256: (id) => unms.expectedSha256(id),
    expectedTimeZone: "America/New_York",
    async teardown() {
      server.resetHandlers();
    },
  };
});
