/**
 * The ConfigStore contract: every adapter (and any embedder's own) must pass it.
 * `factory(initial)` sets up a store holding `initial` in the adapter's own form and returns it,
 * plus `reopen()` (a fresh instance over the same storage, as the next run sees it).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { ConfigStore } from "../../app/ports.ts";
import { SyncError } from "../../domain/errors.ts";

export interface ContractValues {
  unmsUrl?: string;
  unmsApiToken?: string;
  dropboxAppKey?: string;
  dropboxAppSecret?: string;
  dropboxAccessCode?: string;
  dropboxRefreshToken?: string;
  dropboxAccessToken?: string;
  dropboxFolder?: string;
  maxDeletes?: string;
  allowMassDelete?: string;
  chunkMiB?: string;
}

export interface ContractFixture {
  store: ConfigStore;
  reopen(): ConfigStore;
  cleanup(): Promise<void>;
}

/**
 * Sets up a ConfigStore holding the given values, for one case of the ConfigStore suite.
 *
 * @example
 * ```ts
 * import type { ConfigStoreFactory, ContractFixture, ContractValues } from "unms-dropbox-backup-sync/testing";
 *
 * declare function makeFixture(initial: ContractValues): Promise<ContractFixture>;
 *
 * const factory: ConfigStoreFactory = async (initial: ContractValues) => makeFixture(initial);
 * ```
 */
export type ConfigStoreFactory = (initial: ContractValues) => Promise<ContractFixture>;

const BASE: ContractValues = { unmsUrl: "https://uisp.example.com/nms/", unmsApiToken: "unms-token-contract-1" };

/**
 * What every ConfigStore must do, as node:test cases; the factory sets up a store holding the given
 * values in the adapter's own form.
 *
 * @example
 * ```ts
 * import { configStoreContract, type ContractValues } from "unms-dropbox-backup-sync/testing";
 * import type { ConfigStore } from "unms-dropbox-backup-sync";
 *
 * interface Vault {
 *   destroy(): Promise<void>;
 * }
 * declare const Vault: { temporary(initial: ContractValues): Promise<Vault> };
 * declare function openVaultConfigStore(vault: Vault): ConfigStore;
 *
 * configStoreContract("MyVaultConfigStore", async (initial) => {
 *   const vault = await Vault.temporary(initial);
 *   return { store: openVaultConfigStore(vault), reopen: () => openVaultConfigStore(vault), cleanup: () => vault.destroy() };
 * });
 * ```
 */
export function configStoreContract(name: string, factory: ConfigStoreFactory): void {
  describe(`ConfigStore contract: ${name}`, () => {
    async function withStore(initial: ContractValues, body: (f: ContractFixture) => Promise<void>): Promise<void> {
      const fixture = await factory({ ...BASE, ...initial });
      try {
        await body(fixture);
      } finally {
        await fixture.cleanup();
      }
    }

    test("load() returns trimmed values, empty ones as absent, and a state folder", () =>
      withStore(
        { dropboxAppKey: "  key-1 ", dropboxAppSecret: "", dropboxFolder: "/Off site/UISP/", maxDeletes: "3", allowMassDelete: "1", chunkMiB: "16" },
        async ({ store }) => {
          const s = await store.load();
          assert.equal(s.unmsUrl, "https://uisp.example.com/nms");
          assert.equal(s.unmsApiToken, "unms-token-contract-1");
          assert.equal(s.dropboxAppKey, "key-1");
          assert.equal(s.dropboxAppSecret, undefined);
          assert.equal(s.dropboxFolder, "Off site/UISP");
          assert.equal(s.maxDeletes, 3);
          assert.equal(s.allowMassDelete, true);
          assert.equal(s.chunkMiB, 16);
          assert.ok(s.stateDir.length > 0);
        },
      ));

    test("invalid values fail with kind config, naming every bad setting and no secret", () =>
      withStore({ unmsApiToken: "", maxDeletes: "many", chunkMiB: "5", dropboxAccessToken: "legacy-secret-xyz" }, async ({ store }) => {
        await assert.rejects(store.load(), (error: unknown) => {
          assert.ok(SyncError.is(error));
          assert.equal(error.kind, "config");
          assert.match(error.message, /unmsApiToken|UNMS_API_TOKEN/);
          assert.match(error.message, /maxDeletes|MAX_DELETES/);
          assert.match(error.message, /chunkMiB|DROPBOX_CHUNK_MIB/);
          assert.doesNotMatch(error.message, /legacy-secret-xyz/);
          return true;
        });
      }));

    test("a saved refresh token is what the next run loads; the used code is gone", () =>
      withStore({ dropboxAppKey: "k", dropboxAccessCode: "code-abc-123" }, async ({ store, reopen }) => {
        await store.save({ dropboxRefreshToken: "refresh-new-1", dropboxAccessCode: null });
        const next = await reopen().load();
        assert.equal(next.dropboxRefreshToken, "refresh-new-1");
        assert.equal(next.dropboxAccessCode, undefined);
        assert.equal(next.dropboxAppKey, "k", "other settings kept");
      }));

    test("a revoked refresh token can be cleared", () =>
      withStore({ dropboxAppKey: "k" }, async ({ store, reopen }) => {
        await store.save({ dropboxRefreshToken: "refresh-old" });
        assert.equal((await reopen().load()).dropboxRefreshToken, "refresh-old");
        await store.save({ dropboxRefreshToken: null });
        assert.equal((await reopen().load()).dropboxRefreshToken, undefined);
      }));

    test("clearing the legacy token clears it or says which setting to remove", () =>
      withStore({ dropboxAppKey: "k", dropboxAccessToken: "legacy-token-1" }, async ({ store, reopen }) => {
        const { notes } = await store.save({ dropboxRefreshToken: "refresh-2", dropboxAccessToken: null });
        const next = await reopen().load();
        assert.equal(next.dropboxRefreshToken, "refresh-2");
        if (next.dropboxAccessToken !== undefined) {
          assert.ok(notes.some((n) => n.includes(store.labels.legacyToken)), "a note names the setting to remove");
        }
        for (const note of notes) assert.doesNotMatch(note, /legacy-token-1|refresh-2/);
      }));

    test("private state round-trips, survives save() and stays out of the settings", () =>
      withStore({ dropboxAppKey: "k" }, async ({ store, reopen }) => {
        assert.deepEqual(await store.readPrivateState(), {});
        const verifier = "V".repeat(43) + "erifier-0123456789";
        await store.writePrivateState({ pkceVerifier: verifier, pkceClientId: "k" });
        await store.save({ dropboxRefreshToken: "refresh-3" });
        const again = reopen();
        assert.deepEqual(await again.readPrivateState(), { pkceVerifier: verifier, pkceClientId: "k" });
        const settings = await again.load();
        assert.ok(!JSON.stringify(settings).includes(verifier));
        const file = join(settings.stateDir, "dropbox-authorization.json");
        assert.equal((await stat(file)).mode & 0o777, 0o600);
        await again.writePrivateState({});
        assert.deepEqual(await reopen().readPrivateState(), {});
        assert.equal((await reopen().load()).dropboxRefreshToken, "refresh-3", "writing private state keeps the refresh token");
      }));

    test("the run record round-trips through the private state and survives the authorization's writes", () =>
      withStore({ dropboxAppKey: "k" }, async ({ store, reopen }) => {
        const lastRun = {
          finishedAt: "2026-12-02T12:00:00.000Z",
          exitCode: 1,
          summary: "Sync finished with failures: 0 uploaded, 2 already stored, 0 deleted, 1 failed.",
          counts: { uploaded: 0, skipped: 2, deleted: 0, failed: 1 },
          failures: ["UNMS's newest successful backup is 3 days old"],
          lastSuccessAt: "2026-11-29T12:00:00.000Z",
        };
        await store.writePrivateState({ lastRun });
        const state = await reopen().readPrivateState();
        assert.deepEqual(state.lastRun, lastRun);
        await store.writePrivateState({ ...state, pkceVerifier: "V".repeat(43), pkceClientId: "k" });
        await store.save({ dropboxRefreshToken: "refresh-4" });
        assert.deepEqual((await reopen().readPrivateState()).lastRun, lastRun);
      }));

    test("labels name the store's own settings", () =>
      withStore({}, async ({ store }) => {
        assert.ok(store.location.length > 0);
        for (const label of Object.values(store.labels)) assert.match(label, /dropbox|DROPBOX/);
      }));
  });
}
