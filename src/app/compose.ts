/**
 * The composition root of the command line and the UCRM plugin: `compose(profile)` returns the one
 * container that builds every object of a run. A profile module owns what differs per entry (where
 * settings come from, where lines go); the run module (container.ts `syncModule`, loaded once the
 * settings are known, and shared with the library) owns the source, the store and the use case.
 * Entries and `runSync` only resolve; nothing else here calls `new` on an adapter.
 */
import "reflect-metadata";
import { Container, ContainerModule } from "inversify";
import type { Redactor, Reporter } from "../domain/ports.ts";
import type { ConfigStore } from "./ports.ts";
import type { HealthcheckNotifierFactory, RestoreDecryptionFactory } from "./ports.ts";
import { EnvConfigStore } from "../adapters/config/env-config-store.ts";
import { DropboxOAuthClient } from "../adapters/dropbox-auth/dropbox-oauth-client.ts";
import { nodePkce } from "../adapters/dropbox-auth/pkce.ts";
import { UcrmFileConfigStore } from "../adapters/config/ucrm-file-config-store.ts";
import { acquireRunLock } from "../adapters/lock/run-lock.ts";
import { consoleSink, LineReporter } from "../adapters/report/line-reporter.ts";
import { warningsAndErrorsOnly } from "../adapters/report/quiet-sink.ts";
import { DigestingReporter } from "../adapters/report/digesting-reporter.ts";
import { PluginLog } from "../adapters/report/plugin-log.ts";
import { PluginReporter } from "../adapters/report/plugin-reporter.ts";
import type { LoadedSettings } from "./ports.ts";
import { SecretRedactor } from "../domain/redactor.ts";
import { RefreshingAccessTokenProvider, StaticAccessTokenProvider, TokenSession } from "./token-session.ts";
import type { SettingLabels } from "../domain/legacy-migration.ts";
import { ids } from "./service-ids.ts";
import { HealthcheckPinger, PING_TIMEOUT_MS } from "../adapters/healthcheck/healthcheck-pinger.ts";
import { createNodeHttpFetch } from "../adapters/http/node-http-fetch.ts";
import { ensureWritableFolder } from "../adapters/local-dir/writable-folder.ts";
import { DropboxContentHasher } from "../adapters/content-hash/content-hash.ts";
import { localRestoreFileOutput } from "../adapters/local-dir/restore-file-output.ts";

// The settings part of --help comes from the catalogue the config stores read (through the
// composition root, so cli-main imports no adapter): it cannot drift from what the store takes.
export { settingsHelp } from "../adapters/config/settings-catalogue.ts";

/** The command line's `sync`: settings from the environment, results to stdout, diagnostics to stderr. */
export interface CliProfile {
  kind: "cli";
  env: Record<string, string | undefined>;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** --quiet: only warnings and errors (no progress, no per-backup lines, no summary). */
  quiet?: boolean;
}

/** The UCRM plugin run: settings from the plugin folder, lines to data/plugin.log (and stdout). */
export interface UcrmProfile {
  kind: "ucrm";
  pluginDir: string;
  /** Only the test-only DROPBOX_BASE_URL is read from it. */
  env?: Record<string, string | undefined>;
  stdout?: NodeJS.WritableStream;
}

export type Profile = CliProfile | UcrmProfile;

/**
 * Bindings every entry shares: one redactor for all output, the run lock in the state folder, the
 * check of the folders a run writes, content hashers, and health-check pings (whose URL is
 * registered with that redactor).
 */
const commonModule = new ContainerModule(({ bind }) => {
  bind(ids.Redactor).toResolvedValue(() => new SecretRedactor(), []).inSingletonScope();
  bind(ids.RunLock).toConstantValue((stateDir, onStale) => acquireRunLock(stateDir, { onStaleLock: onStale }));
  bind(ids.WritableFolderCheck).toConstantValue((path, setting) => ensureWritableFolder(path, setting));
  bind(ids.ContentHasher).toConstantValue(() => new DropboxContentHasher());
  bind(ids.HealthcheckNotifier)
    .toResolvedValue(
      (redactor: Redactor): HealthcheckNotifierFactory =>
        (url, sleep) => new HealthcheckPinger({ url, fetch: pingFetch(), redactor, ...(sleep ? { sleep } : {}) }),
      [ids.Redactor],
    )
    .inSingletonScope();
});

/** Node 16 has no global fetch; Deno's own works without node:http's compatibility layer. */
function pingFetch(): typeof fetch {
  return "Deno" in globalThis ? (url, init) => fetch(url, init) : createNodeHttpFetch({ timeoutMs: PING_TIMEOUT_MS });
}

function cliModule(profile: CliProfile): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(ids.ConfigStore).toResolvedValue(() => new EnvConfigStore(profile.env), []).inSingletonScope();
    bind(ids.EntryReporter)
      .toResolvedValue(
        (redactor: Redactor) => {
          const sink = consoleSink({ stdout: profile.stdout, stderr: profile.stderr, env: profile.env });
          return new DigestingReporter(new LineReporter(profile.quiet ? warningsAndErrorsOnly(sink) : sink, (text) => redactor.redact(text)));
        },
        [ids.Redactor],
      )
      .inSingletonScope();
    // restore's identities are secrets: their keys go to the run's redactor as soon as they are read.
    bind(ids.RestoreDecryption)
      .toResolvedValue(
        (redactor: Redactor): RestoreDecryptionFactory =>
          // Only restore loads the age package (sync and the other commands never need it).
          async (options) => (await import("../adapters/age/age-decryptor.ts")).restoreDecryption({ ...options, redactor }),
        [ids.Redactor],
      )
      .inSingletonScope();
    bind(ids.RestoreFileOutput).toConstantValue(localRestoreFileOutput);
  });
}

function ucrmModule(profile: UcrmProfile): ContainerModule {
  return new ContainerModule(({ bind }) => {
    const dropboxBaseUrl = profile.env?.DROPBOX_BASE_URL;
    bind(ids.PluginLog).toResolvedValue(() => new PluginLog(profile.pluginDir), []).inSingletonScope();
    bind(ids.ConfigStore)
      .toResolvedValue(() => new UcrmFileConfigStore(profile.pluginDir, dropboxBaseUrl ? { dropboxBaseUrl } : {}), [])
      .inSingletonScope();
    bind(ids.EntryReporter)
      .toResolvedValue(
        (log: PluginLog, redactor: Redactor) => new PluginReporter(log, (text) => redactor.redact(text), profile.stdout),
        [ids.PluginLog, ids.Redactor],
      )
      .inSingletonScope();
  });
}

/**
 * The token session of a run whose settings are loaded: persistence in the entry's config store,
 * warnings to its reporter, every token obtained to its redactor.
 */
export function tokenSessionModule(
  settings: LoadedSettings,
  seams: { dropboxFetch?: typeof fetch; sleep?: (ms: number, signal?: AbortSignal) => Promise<void> } = {},
): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(ids.TokenSession)
      .toResolvedValue(
        (store: ConfigStore, reporter: Reporter, redactor: Redactor) =>
          TokenSession.fromSettings(settings, {
            store,
            reporter,
            registerSecret: (secret) => redactor.register([secret]),
            pkce: nodePkce,
            oauth: new DropboxOAuthClient({
              redactor,
              ...(seams.dropboxFetch ? { fetch: seams.dropboxFetch } : {}),
              ...(seams.sleep ? { sleep: seams.sleep } : {}),
              ...(settings.dropboxBaseUrl ? { baseUrl: settings.dropboxBaseUrl } : {}),
            }),
          }),
        [ids.ConfigStore, ids.EntryReporter, ids.Redactor],
      )
      .inSingletonScope();
  });
}

/**
 * The library's token session from the credentials an embedder passed (already checked): on a
 * refresh token (OAuth client built here), or on a legacy token. Nothing is persisted.
 */
export function libraryTokenSession(
  labels: SettingLabels,
  credentials:
    | { refreshToken: string; appKey: string; appSecret?: string; baseUrl?: string; fetch?: typeof fetch; redactor?: Redactor }
    | { legacyToken: string },
): TokenSession {
  if ("legacyToken" in credentials) return new StaticAccessTokenProvider({ labels, now: Date.now, token: credentials.legacyToken });
  const oauth = new DropboxOAuthClient({
    ...(credentials.fetch ? { fetch: credentials.fetch } : {}),
    ...(credentials.baseUrl ? { baseUrl: credentials.baseUrl } : {}),
    ...(credentials.redactor ? { redactor: credentials.redactor } : {}),
  });
  return new RefreshingAccessTokenProvider({
    labels,
    now: Date.now,
    oauth,
    clientId: credentials.appKey,
    ...(credentials.appSecret ? { clientSecret: credentials.appSecret } : {}),
    refreshToken: credentials.refreshToken,
  });
}

/** The container of one entry's run, for `profile`. */
export function compose(profile: Profile): Container {
  const container = new Container();
  container.load(commonModule, profile.kind === "cli" ? cliModule(profile) : ucrmModule(profile));
  return container;
}
