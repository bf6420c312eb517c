/**
 * The composition root: which adapter plays which port, decided once from the settings.
 *
 * Entry points (CLI, UCRM plugin, library) differ only in where settings come from and where lines
 * go; they hand those in, plus any adapters an embedder brings, and resolve `SyncBackups`.
 */
import "reflect-metadata";
import { Container, ContainerModule } from "inversify";
import type { AccessTokenProvider, BackupSource, BackupStore, Clock, DownloadLedger, Redactor, Reporter } from "../domain/ports.ts";
import type { UploadSessionStore } from "./ports.ts";
import { SecretRedactor } from "../domain/redactor.ts";
import { FileUploadSessionStore } from "../adapters/upload-sessions/file-upload-session-store.ts";
import type { Settings } from "../domain/settings.ts";
import { UnmsBackupSource } from "../adapters/unms/unms-backup-source.ts";
import { DropboxBackupStore } from "../adapters/dropbox/dropbox-backup-store.ts";
import { LocalDirBackupStore } from "../adapters/local-dir/local-dir-backup-store.ts";
import { createNodeHttpFetch } from "../adapters/http/node-http-fetch.ts";
import { createUnmsTlsFetch, needsUnmsTlsFetch, type UnmsTlsOptions } from "../adapters/unms/unms-tls-fetch.ts";
import { DownloadLedgerFile } from "../adapters/config/download-ledger-file.ts";
import { MemoryDownloadLedger } from "../adapters/memory/memory-download-ledger.ts";
import { SyncError } from "../domain/errors.ts";
import { ids } from "./service-ids.ts";
import { RetryingBackupSource } from "../adapters/retry/retrying-source.ts";
import { DEFAULT_RETRY_OPTIONS, type RetryOptions } from "../adapters/retry/retry.ts";
import { retryNotice } from "./retry-notice.ts";
import { SyncBackups } from "./sync-backups.ts";
import { AgeBackupEncryptor } from "../adapters/age/age-encryptor.ts";

export interface SyncContainerInput {
  settings: Settings;
  reporter: Reporter;
  /** Required unless the target is a local folder or a store is given. */
  tokens?: AccessTokenProvider;
  /** Adapters that replace the defaults (embedders, tests). */
  source?: BackupSource;
  store?: BackupStore;
  /** Description of `store` for messages, when one is given. */
  storeDescription?: string;
  clock?: Clock;
  /** Default: `downloads.json` in `settings.stateDir`, or in memory when there is no state folder. */
  ledger?: DownloadLedger;
  /** Where unfinished uploads are kept between runs; default upload-sessions.json in settings.stateDir. */
  sessions?: UploadSessionStore;
  /** monotonicClock time when the run's budget is spent: retries stop there too. */
  runDeadline?: number;
  unmsFetch?: typeof fetch;
  dropboxFetch?: typeof fetch;
  /** Test only: Dropbox's API hosts replaced by this base URL (the loopback fake). */
  dropboxBaseUrl?: string;
  /** How retry back-off waits; default real timers (tests pass one that does not sleep). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The run's one redactor, handed to the adapters that put outside text into errors; default a new one. */
  redactor?: Redactor;
}

const MiB = 1024 * 1024;

export const monotonicClock: Clock = { now: () => performance.now() };

function describeTarget(settings: Settings): string {
  if (settings.targetDir) return `local folder ${settings.targetDir}${settings.dropboxFolder ? `/${settings.dropboxFolder}` : ""}`;
  return `Dropbox app folder /${settings.dropboxFolder}`;
}

/**
 * UNMS calls go through node:http under Node (and Bun): Node 16 has no global fetch. Deno keeps its
 * own fetch, which works there without node:http's compatibility layer.
 */
function defaultUnmsFetch(): typeof fetch {
  if ("Deno" in globalThis) return (url, init) => fetch(url, init);
  return createNodeHttpFetch();
}

export function syncModule(input: SyncContainerInput): ContainerModule {
  return new ContainerModule(({ bind }) => {
    const redactor = input.redactor ?? new SecretRedactor();
    bind(ids.Settings).toConstantValue(input.settings);
    bind(ids.Reporter).toConstantValue(input.reporter);
    bind(ids.Clock).toConstantValue(input.clock ?? monotonicClock);
    const unmsTls: UnmsTlsOptions = { caCertificates: input.settings.unmsCaCertificates ?? [], insecure: input.settings.unmsTlsInsecure === true };
    bind(ids.UnmsFetch).toConstantValue(input.unmsFetch ?? (needsUnmsTlsFetch(unmsTls) ? createUnmsTlsFetch(unmsTls) : defaultUnmsFetch()));

    if (input.tokens) bind(ids.AccessTokenProvider).toConstantValue(input.tokens);
    bind(ids.UploadSessionStore)
      .toResolvedValue(
        (settings: Settings, reporter: Reporter) =>
          input.sessions ?? new FileUploadSessionStore(settings.stateDir, (why) => reporter.report({ type: "warning", message: `Saved upload state: ${why}` })),
        [ids.Settings, ids.Reporter],
      )
      .inSingletonScope();
    const runDeadline: Partial<RetryOptions> = {
      ...(input.runDeadline === undefined ? {} : { deadline: input.runDeadline }),
      ...(input.sleep ? { sleep: input.sleep } : {}),
    };

    bind(ids.BackupSource)
      .toResolvedValue(
        (settings: Settings, unmsFetch: typeof fetch, reporter: Reporter) =>
          new RetryingBackupSource(
            input.source ?? new UnmsBackupSource({ baseUrl: settings.unmsUrl, apiToken: settings.unmsApiToken, fetch: unmsFetch, redactor }),
            {
              retry: runDeadline,
              onRetry: (info) => reporter.report({ type: "warning", message: retryNotice(info) }),
            },
          ),
        [ids.Settings, ids.UnmsFetch, ids.Reporter],
      )
      .inSingletonScope();

    if (input.store) {
      bind(ids.BackupStore).toConstantValue(input.store);
      bind(ids.TargetDescription).toConstantValue(input.storeDescription ?? "the given store");
    } else {
      bind(ids.TargetDescription).toConstantValue(describeTarget(input.settings));
      if (input.settings.targetDir) {
        bind(ids.BackupStore)
          .toResolvedValue((sessions: UploadSessionStore) => new LocalDirBackupStore(input.settings.targetDir!, { sessions }), [ids.UploadSessionStore])
          .inSingletonScope();
      } else {
        if (!input.tokens) {
          throw new SyncError("Dropbox is the target but no access token provider was set up", { kind: "config", code: "config.no_tokens" });
        }
        bind(ids.BackupStore)
          .toResolvedValue(
            (settings: Settings, tokens: AccessTokenProvider, reporter: Reporter, sessions: UploadSessionStore) =>
              new DropboxBackupStore({
                tokens,
                redactor,
                // Without a fetch the store uses node:http; a base URL points either at a fake.
                ...(input.dropboxFetch ? { fetch: input.dropboxFetch } : {}),
                ...(input.dropboxBaseUrl ? { baseUrl: input.dropboxBaseUrl } : {}),
                // Without a state folder (the library) uploads are not kept between runs.
                ...(input.sessions || settings.stateDir ? { sessions } : {}),
                // Concurrent chunks wait on disk next to the saved state (the plugin's data folder).
                ...(settings.stateDir ? { spoolDir: settings.stateDir } : {}),
                retry: runDeadline,
                ...(settings.chunkMiB ? { chunkBytes: settings.chunkMiB * MiB } : {}),
                ...(settings.dropboxConnections ? { connections: settings.dropboxConnections } : {}),
                onRetry: ({ operation, attempt, reason, delayMs, error }) =>
                  reporter.report({
                    type: "warning",
                    message: retryNotice({
                      reason: `Dropbox ${operation} failed with ${reason}`,
                      error,
                      attempt: attempt + 1,
                      attempts: runDeadline.attempts ?? DEFAULT_RETRY_OPTIONS.attempts,
                      delayMs,
                    }),
                  }),
              }),
            [ids.Settings, ids.AccessTokenProvider, ids.Reporter, ids.UploadSessionStore],
          )
          .inSingletonScope();
      }
    }

    bind(ids.DownloadLedger).toConstantValue(
      input.ledger ?? (input.settings.stateDir ? new DownloadLedgerFile(input.settings.stateDir) : new MemoryDownloadLedger()),
    );
    bind(ids.SyncBackups)
      .toResolvedValue(
        (source: BackupSource, store: BackupStore, reporter: Reporter, clock: Clock, target: string, ledger: DownloadLedger, settings: Settings) =>
          new SyncBackups(source, store, reporter, clock, target, ledger, settings.encryptTo ? new AgeBackupEncryptor(settings.encryptTo) : undefined),
        [ids.BackupSource, ids.BackupStore, ids.Reporter, ids.Clock, ids.TargetDescription, ids.DownloadLedger, ids.Settings],
      )
      .inSingletonScope();
  });
}

export function createSyncContainer(input: SyncContainerInput): Container {
  const container = new Container();
  container.load(syncModule(input));
  return container;
}
