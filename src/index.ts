/**
 * The embeddable library: `createBackupSync(options).sync()` runs the same sync as the CLI, with the
 * adapters an embedder chooses, and resolves to the run's `SyncReport`.
 *
 * Everything the sync touches is a port (BackupSource, BackupStore, AccessTokenProvider, Reporter),
 * so an embedder may bring their own adapter for any of them and check it with the contract suites
 * of `<package>/testing`.
 */
import "reflect-metadata";
import { SyncError, configError, describeError } from "./domain/errors.ts";
import type { SettingLabels } from "./domain/legacy-migration.ts";
import type { AccessTokenProvider, BackupSource, BackupStore, DownloadLedger, Redactor, Reporter, SyncEvent } from "./domain/ports.ts";
import { SecretRedactor } from "./domain/redactor.ts";
import type { SyncPolicy } from "./domain/reconcile.ts";
import type { Settings } from "./domain/settings.ts";
import { parseFolder, ROOT_FOLDER, type Folder } from "./domain/folder.ts";
import { libraryTokenSession } from "./app/compose.ts";
import { createSyncContainer } from "./app/container.ts";
import { certificatesIn, readUnmsCaFile } from "./adapters/config/unms-ca-file.ts";
import { insecureTlsWarning } from "./domain/insecure-tls-warning.ts";
import { summarize } from "./app/sync-report.ts";
import { ids } from "./app/service-ids.ts";
import type { SyncReport } from "./app/sync-report.ts";
import { checkHttpUrl } from "./domain/http-url.ts";
import { parseAgeRecipients } from "./adapters/age/age-recipients.ts";

// ---------------------------------------------------------------------------------------------------
// createBackupSync

/**
 * Dropbox credentials, as the CLI takes them: a refresh token with the app key it was issued for
 * (plus the app secret unless it came from a PKCE authorization), or a legacy long-lived token.
 *
 * @example
 * ```ts
 * import type { DropboxCredentials } from "unms-dropbox-backup-sync";
 *
 * const dropbox: DropboxCredentials = { appKey: "abc123", refreshToken: process.env.DROPBOX_REFRESH_TOKEN! };
 * ```
 */
export interface DropboxCredentials {
  appKey?: string;
  appSecret?: string;
  refreshToken?: string;
  /** Legacy long-lived token: still works, with a warning on every run. */
  accessToken?: string;
  /** Send every Dropbox request here instead (a test double such as the loopback FakeDropbox). */
  baseUrl?: string;
}

/**
 * Dropbox with access tokens from your own AccessTokenProvider (a token vault, a shared refresher).
 *
 * @example
 * ```ts
 * import type { DropboxTokenSource } from "unms-dropbox-backup-sync";
 *
 * declare const vault: { dropboxToken(): Promise<string>; renewDropboxToken(): Promise<string> };
 *
 * const dropbox: DropboxTokenSource = {
 *   tokens: { accessToken: () => vault.dropboxToken(), refreshAfterRejection: () => vault.renewDropboxToken() },
 * };
 * ```
 */
export interface DropboxTokenSource {
  tokens: AccessTokenProvider;
  /** Send every Dropbox request here instead (a test double). */
  baseUrl?: string;
}

/**
 * Where UNMS is, its API token, and how to trust its HTTPS certificate when no public CA signed it.
 * The TLS options apply to UNMS calls only, never to Dropbox.
 *
 * @example
 * ```ts
 * import type { UnmsConnection } from "unms-dropbox-backup-sync";
 *
 * const unms: UnmsConnection = { url: "https://10.0.0.5/nms", apiToken: process.env.UNMS_API_TOKEN!, caFile: "/etc/uisp/ca.pem" };
 * ```
 */
export interface UnmsConnection {
  url: string;
  apiToken: string;
  /** PEM file with one or more certificates (UISP's own, or the CA that issued it) to trust besides the public CAs. */
  caFile?: string;
  /** The same as PEM text, for certificates you already hold in memory. */
  ca?: string | string[];
  /** Skip certificate verification for UNMS (a warning on every run); prefer `caFile`. */
  tlsInsecure?: boolean;
}

/**
 * What `createBackupSync` needs: where backups come from (`unms` or your own `source`) and where
 * copies go (`dropbox` or your own `store`); the rest is optional.
 *
 * @example
 * ```ts
 * import type { BackupSyncOptions } from "unms-dropbox-backup-sync";
 *
 * const options: BackupSyncOptions = {
 *   unms: { url: "https://uisp.example.com/nms", apiToken: process.env.UNMS_API_TOKEN! },
 *   dropbox: { appKey: "abc123", refreshToken: process.env.DROPBOX_REFRESH_TOKEN! },
 *   folder: "UISP",
 *   policy: { maxDeletes: 5 },
 * };
 * ```
 */
export interface BackupSyncOptions {
  /** Read backups from this UNMS/UISP (the NMS base URL, e.g. `https://uisp.example.com/nms`). */
  unms?: UnmsConnection;
  /** Your own BackupSource instead of `unms`. */
  source?: BackupSource;
  /** Copy into this Dropbox app folder. */
  dropbox?: DropboxCredentials | DropboxTokenSource;
  /** Your own BackupStore instead of `dropbox`. */
  store?: BackupStore;
  /** Folder inside the store ("" or absent: its root); leading and trailing "/" are ignored. */
  folder?: string;
  /** Deletion guards; by default at most half of our files go in one run. */
  policy?: SyncPolicy;
  /** Told everything worth telling (uploads, deletions, guards, warnings). Default: silent. */
  reporter?: Reporter;
  /** Used for UNMS and Dropbox requests instead of the defaults (global fetch, node:http). */
  fetch?: typeof fetch;
  /**
   * Where the bytes each backup's download sent are remembered, so a wrong listed size never
   * causes a re-upload every run. Default: in memory for this instance; a process that runs once
   * should pass `new DownloadLedgerFile(dir)`.
   */
  downloadLedger?: DownloadLedger;
  /** age recipients (`age1...` public keys): new copies are encrypted to all of them, stored as `.unms.age`. */
  encryptTo?: string[];
}

/**
 * Options of one run.
 *
 * @example
 * ```ts
 * import type { BackupSync, SyncRunOptions } from "unms-dropbox-backup-sync";
 *
 * declare const backupSync: BackupSync;
 *
 * const runOptions: SyncRunOptions = { dryRun: true, signal: AbortSignal.timeout(3_600_000) };
 * await backupSync.sync(runOptions);
 * ```
 */
export interface SyncRunOptions {
  /** Plan and report only: nothing is uploaded or deleted. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/**
 * A configured sync; each `sync()` is one run (runs of one instance never overlap).
 *
 * @example
 * ```ts
 * import type { BackupSync } from "unms-dropbox-backup-sync";
 *
 * declare const backupSync: BackupSync;
 *
 * const report = await backupSync.sync();
 * if (report.failed.length > 0) process.exitCode = 1;
 * ```
 */
export interface BackupSync {
  /**
   * Runs one sync. Per-backup failures land in `report.failed`; the promise rejects (with a
   * SyncError) only when a listing, the authorization or the signal stops the whole run.
   */
  sync(options?: SyncRunOptions): Promise<SyncReport>;
}

/**
 * Sets up a sync from UNMS (or your own source) into Dropbox (or your own store).
 *
 * @throws SyncError of kind `config` naming the missing or unusable option.
 *
 * @example
 * ```ts
 * import { createBackupSync, LineReporter, consoleSink } from "unms-dropbox-backup-sync";
 *
 * const backupSync = createBackupSync({
 *   unms: { url: "https://uisp.example.com/nms", apiToken: process.env.UNMS_API_TOKEN! },
 *   dropbox: { appKey: process.env.DROPBOX_APP_KEY!, refreshToken: process.env.DROPBOX_REFRESH_TOKEN! },
 *   folder: "UISP",
 *   reporter: new LineReporter(consoleSink()),
 * });
 * const report = await backupSync.sync({ dryRun: true });
 * console.log(report.uploaded, report.deleted);
 * ```
 */
export function createBackupSync(options: BackupSyncOptions): BackupSync {
  if (typeof options !== "object" || options === null) {
    throw configError("createBackupSync: options are missing; pass { unms or source, dropbox or store, ... }.", "config.library.options_missing");
  }
  const reporter = options.reporter ?? silentReporter;
  if (typeof reporter.report !== "function") {
    throw configError("createBackupSync: reporter has no report(event) method; pass a Reporter or leave it out.", "config.library.reporter");
  }
  const folder = checkFolder(options.folder);
  const unms = checkSource(options);
  // One redactor for the adapters of this instance: the OAuth client, the UNMS source, the Dropbox store.
  const redactor = new SecretRedactor();
  const target = checkTarget(options, folder, redactor);
  const unmsTls = unms ? checkUnmsTls(options.unms!, options.fetch) : {};
  if (unmsTls.unmsTlsInsecure) target.warnings.unshift(insecureTlsWarning("unms.tlsInsecure"));

  const settings: Settings = {
    unmsUrl: unms?.url ?? "",
    unmsApiToken: unms?.apiToken ?? "",
    dropboxFolder: folder,
    ...unmsTls,
    ...(options.encryptTo ? { encryptTo: parseAgeRecipients(options.encryptTo.join(" "), "encryptTo") } : {}),
    // The library takes no run lock and keeps no private state; the embedder owns both.
    stateDir: "",
  };
  const container = createSyncContainer({
    settings,
    reporter,
    redactor,
    ...(options.source ? { source: options.source } : {}),
    ...("store" in target
      ? { store: target.store, storeDescription: target.description }
      : {
          tokens: target.dropbox.tokens,
          ...(target.dropbox.fetch ? { dropboxFetch: target.dropbox.fetch } : {}),
          ...(target.dropbox.baseUrl ? { dropboxBaseUrl: target.dropbox.baseUrl } : {}),
        }),
    ...(options.fetch ? { unmsFetch: options.fetch } : {}),
    ...(options.downloadLedger ? { ledger: options.downloadLedger } : {}),
  });
  // Resolved now, so an unusable UNMS URL or token fails here rather than at the first run.
  const syncBackups = container.get(ids.SyncBackups);

  let running = false;
  return {
    async sync(runOptions: SyncRunOptions = {}): Promise<SyncReport> {
      if (running) {
        throw new SyncError("createBackupSync: a sync of this instance is still running; wait for it before starting another.", {
          kind: "permanent",
          code: "library.sync_in_progress",
        });
      }
      running = true;
      try {
        for (const warning of target.warnings) reporter.report({ type: "warning", message: warning });
        const report = await syncBackups.run({
          folder,
          dryRun: runOptions.dryRun === true,
          ...(options.policy ? { policy: options.policy } : {}),
          ...(runOptions.signal ? { signal: runOptions.signal } : {}),
        });
        report.warnings.unshift(...target.warnings);
        reporter.report({ type: "run-finished", summary: summarize(report) });
        return report;
      } catch (error) {
        reporter.report({ type: "failed", message: describeError(error) });
        throw error;
      } finally {
        running = false;
      }
    },
  };
}

/**
 * A Reporter that drops every event: the default of `createBackupSync`.
 *
 * @example
 * ```ts
 * import { createBackupSync, silentReporter, type BackupSource, type BackupStore } from "unms-dropbox-backup-sync";
 *
 * declare const source: BackupSource;
 * declare const store: BackupStore;
 *
 * createBackupSync({ source, store, reporter: silentReporter });
 * ```
 */
export const silentReporter: Reporter = { report: (_event: SyncEvent) => undefined };

/** How the token providers name the library's options in their messages. */
const LIBRARY_LABELS: SettingLabels = {
  appKey: "dropbox.appKey",
  appSecret: "dropbox.appSecret",
  accessCode: "the access code (exchange it with the backup-sync CLI)",
  refreshToken: "dropbox.refreshToken",
  legacyToken: "dropbox.accessToken",
};

function present(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function checkFolder(folder: string | undefined): Folder {
  if (folder === undefined) return ROOT_FOLDER;
  if (typeof folder !== "string") throw configError(`createBackupSync: folder must be a string such as "UISP/backups", got ${typeof folder}.`, "config.folder");
  const parsed = parseFolder(folder);
  if ("problem" in parsed) throw configError(`createBackupSync: folder "${folder}" is not usable: ${parsed.problem}.`, "config.folder");
  return parsed.folder;
}

/** The CA certificates and insecure switch of `unms`, checked now so a bad file fails here. */
function checkUnmsTls(unms: UnmsConnection, customFetch: typeof fetch | undefined): Pick<Settings, "unmsCaCertificates" | "unmsTlsInsecure"> {
  const certificates: string[] = [];
  if (unms.caFile !== undefined) {
    if (typeof unms.caFile !== "string" || unms.caFile.trim() === "") {
      throw configError("createBackupSync: unms.caFile must be the path of a PEM file, e.g. /etc/uisp/ca.pem.", "config.unms_ca_file");
    }
    const read = readUnmsCaFile(unms.caFile.trim());
    if ("problem" in read) {
      throw configError(`createBackupSync: unms.caFile ${read.problem}; give a PEM file with the UISP certificate or the CA that issued it.`, "config.unms_ca_file");
    }
    certificates.push(...read.certificates);
  }
  if (unms.ca !== undefined) {
    const texts = Array.isArray(unms.ca) ? unms.ca : [unms.ca];
    for (const [index, pem] of texts.entries()) {
      const parsed = typeof pem === "string" ? certificatesIn(pem) : { problem: `is a ${typeof pem}, not PEM text` };
      if ("problem" in parsed) {
        const which = Array.isArray(unms.ca) ? `unms.ca[${index}]` : "unms.ca";
        throw configError(`createBackupSync: ${which} ${parsed.problem}; give the PEM text of the UISP certificate or of the CA that issued it.`, "config.unms_ca");
      }
      certificates.push(...parsed.certificates);
    }
  }
  if (unms.tlsInsecure !== undefined && typeof unms.tlsInsecure !== "boolean") {
    throw configError(`createBackupSync: unms.tlsInsecure must be true or false, got ${typeof unms.tlsInsecure}.`, "config.unms_tls_insecure");
  }
  const insecure = unms.tlsInsecure === true;
  if (customFetch && (insecure || certificates.length > 0)) {
    throw configError(
      "createBackupSync: unms.caFile, unms.ca and unms.tlsInsecure configure the built-in HTTPS client, but fetch replaces it; drop fetch, or set up TLS in your fetch and drop those options.",
      "config.unms_tls_with_fetch",
    );
  }
  return { ...(certificates.length > 0 ? { unmsCaCertificates: certificates } : {}), ...(insecure ? { unmsTlsInsecure: true } : {}) };
}

/** An embedder's adapter must have the port's methods; the first missing one is named. */
function requireMethods<T extends object>(adapter: T, methods: readonly (keyof T & string)[], option: string, port: string, code: string): void {
  for (const method of methods) {
    if (typeof adapter[method] !== "function") {
      throw configError(`createBackupSync: ${option} has no ${method}() method; it must implement ${port} (${methods.join(", ")}).`, code);
    }
  }
}

function checkSource(options: BackupSyncOptions): { url: string; apiToken: string } | undefined {
  if (options.source && options.unms) {
    throw configError("createBackupSync: both unms and source are set; pass only one (source replaces the UNMS adapter).", "config.library.source_ambiguous");
  }
  if (options.source) {
    requireMethods(options.source, ["list", "timeZone", "open"], "source", "BackupSource", "config.library.source_invalid");
    return undefined;
  }
  if (!options.unms) {
    throw configError(
      "createBackupSync: no backup source: pass unms: { url, apiToken } to read backups from UNMS/UISP, or source with your own BackupSource.",
      "config.library.source_missing",
    );
  }
  const url = present(options.unms.url);
  if (!url) {
    throw configError("createBackupSync: unms.url is missing: set it to the NMS base URL, e.g. https://uisp.example.com/nms.", "config.unms_url_missing");
  }
  if (!checkHttpUrl(url).ok) {
    throw configError(`createBackupSync: unms.url "${url}" is not an http(s) URL: set it to the NMS base URL, e.g. https://uisp.example.com/nms.`, "config.unms_url");
  }
  const apiToken = present(options.unms.apiToken);
  if (!apiToken) {
    throw configError(
      "createBackupSync: unms.apiToken is missing: create an API token in UISP (Settings > Users > API tokens) and pass it as unms.apiToken.",
      "config.unms_token_missing",
    );
  }
  return { url, apiToken };
}

/** The embedder's own store, or what the composition needs to build the Dropbox store. */
type Target = (
  | { store: BackupStore; description: string }
  | { dropbox: { tokens: AccessTokenProvider; fetch?: typeof fetch; baseUrl?: string } }
) & {
  /** Told on every run (a legacy Dropbox token). */
  warnings: string[];
};

function checkTarget(options: BackupSyncOptions, folder: string, redactor: Redactor): Target {
  if (options.store && options.dropbox) {
    throw configError("createBackupSync: both dropbox and store are set; pass only one (store replaces the Dropbox adapter).", "config.library.store_ambiguous");
  }
  if (options.store) {
    requireMethods(options.store, ["list", "put", "remove"], "store", "BackupStore", "config.library.store_invalid");
    const kind = options.store.constructor?.name;
    const named = kind && kind !== "Object" ? kind : "the given store";
    return { store: options.store, description: folder ? `${named}, folder ${folder}` : named, warnings: [] };
  }
  if (!options.dropbox) {
    throw configError(
      "createBackupSync: no target: pass dropbox with credentials ({ appKey, refreshToken } or { tokens }) to copy into a Dropbox app folder, or store with your own BackupStore.",
      "config.library.store_missing",
    );
  }
  const { tokens, warnings } = dropboxTokens(options.dropbox, options.fetch, redactor);
  const baseUrl = present(options.dropbox.baseUrl);
  // The Dropbox store itself is built by the composition (container.ts), as for the command line.
  return { dropbox: { tokens, ...(options.fetch ? { fetch: options.fetch } : {}), ...(baseUrl ? { baseUrl } : {}) }, warnings };
}

function dropboxTokens(
  dropbox: DropboxCredentials | DropboxTokenSource, fetchImpl: typeof fetch | undefined, redactor: Redactor,
): { tokens: AccessTokenProvider; warnings: string[] } {
  if ("tokens" in dropbox) {
    const tokens = dropbox.tokens;
    if (!tokens || typeof tokens.accessToken !== "function" || typeof tokens.refreshAfterRejection !== "function") {
      throw configError(
        "createBackupSync: dropbox.tokens is not an AccessTokenProvider; it needs accessToken() and refreshAfterRejection(rejected, reason).",
        "config.library.tokens_invalid",
      );
    }
    return { tokens, warnings: [] };
  }
  const refreshToken = present(dropbox.refreshToken);
  if (refreshToken) {
    const appKey = present(dropbox.appKey);
    if (!appKey) {
      throw configError(
        "createBackupSync: dropbox.appKey is missing: a refresh token can only be used with the app key of the Dropbox app that issued it (App Console > your app > Settings).",
        "config.dropbox_app_key_missing",
      );
    }
    const appSecret = present(dropbox.appSecret);
    const baseUrl = present(dropbox.baseUrl);
    const tokens = libraryTokenSession(LIBRARY_LABELS, {
      refreshToken,
      appKey,
      ...(appSecret ? { appSecret } : {}),
      ...(baseUrl ? { baseUrl } : {}),
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
      redactor,
    });
    return { tokens, warnings: [] };
  }
  const legacyToken = present(dropbox.accessToken);
  if (legacyToken) {
    return {
      tokens: libraryTokenSession(LIBRARY_LABELS, { legacyToken }),
      warnings: [
        "dropbox.accessToken is a legacy long-lived Dropbox token, which Dropbox is retiring; authorize once with the backup-sync CLI and pass dropbox.appKey with dropbox.refreshToken instead.",
      ],
    };
  }
  throw configError(
    "createBackupSync: dropbox has no credentials: pass dropbox.refreshToken with dropbox.appKey (and dropbox.appSecret unless the token came from a PKCE authorization), a legacy dropbox.accessToken, or dropbox.tokens with your own AccessTokenProvider. The backup-sync CLI obtains a refresh token (see its README, Dropbox setup).",
    "config.dropbox_credentials_missing",
  );
}

// ---------------------------------------------------------------------------------------------------
// Ports and domain types
// Each re-exported name carries its doc comment (and example) at its declaration: editors show that one.

export type { BackupSource, BackupStore, BackupDownload, ByteStream, PutOptions } from "./domain/ports.ts";
export type { RemoveOutcome } from "./domain/ports.ts";
export type { StoredCopyDownload } from "./domain/ports.ts";
export type { Reporter, SyncEvent } from "./domain/ports.ts";
export type { AccessTokenProvider } from "./domain/ports.ts";
export type { UnmsBackup } from "./domain/backup.ts";
export type {
  StoredFile,
  SyncPolicy,
  SyncPlan,
  PlannedUpload,
  PlannedKeep,
  PlannedDeletion,
  IgnoredBackup,
  Guard,
  GuardCode,
  ReconcileInput,
  UploadReason,
} from "./domain/reconcile.ts";
export type { SyncReport, UploadRecord } from "./app/sync-report.ts";
export type { Settings } from "./domain/settings.ts";
export type { ConfigStore, ConfigPatch, PrivateState, SaveOutcome } from "./app/ports.ts";
export type { RunRecord } from "./app/ports.ts";
export type { FailureKind, SyncErrorOptions } from "./domain/errors.ts";

// ---------------------------------------------------------------------------------------------------
// Domain functions and errors

export { SyncError } from "./domain/errors.ts";
export { describeError } from "./domain/errors.ts";
export { reconcile } from "./domain/reconcile.ts";
export { backupFileName } from "./domain/backup.ts";
export { backupIdFromFileName } from "./domain/backup.ts";
export { isBackupFileName } from "./domain/backup.ts";
export { summarize } from "./app/sync-report.ts";
export { contentHashOf, DropboxContentHasher } from "./adapters/content-hash/content-hash.ts";

// ---------------------------------------------------------------------------------------------------
// Adapters

export { UnmsBackupSource } from "./adapters/unms/unms-backup-source.ts";
export type { UnmsBackupSourceOptions } from "./adapters/unms/unms-backup-source.ts";
export { DropboxBackupStore } from "./adapters/dropbox/dropbox-backup-store.ts";
export type { DropboxBackupStoreOptions } from "./adapters/dropbox/dropbox-backup-store.ts";
export { LocalDirBackupStore } from "./adapters/local-dir/local-dir-backup-store.ts";
export { MemoryBackupStore } from "./adapters/memory/memory-backup-store.ts";
export type { MemoryBackupStoreOptions } from "./adapters/memory/memory-backup-store.ts";
export { LineReporter, consoleSink } from "./adapters/report/line-reporter.ts";
export type { LineSink } from "./adapters/report/line-reporter.ts";
export type { Line } from "./adapters/report/format.ts";
export { RefreshingAccessTokenProvider, StaticAccessTokenProvider } from "./app/token-session.ts";
export { DropboxOAuthClient } from "./adapters/dropbox-auth/dropbox-oauth-client.ts";
export { EnvConfigStore } from "./adapters/config/env-config-store.ts";
export { UcrmFileConfigStore } from "./adapters/config/ucrm-file-config-store.ts";
export { DownloadLedgerFile } from "./adapters/config/download-ledger-file.ts";
export { MemoryDownloadLedger } from "./adapters/memory/memory-download-ledger.ts";
export type { DownloadLedger } from "./domain/ports.ts";
export type { DownloadRecord } from "./domain/reconcile.ts";
export { describeRetention } from "./domain/retention.ts";
export type { RetentionPolicy, RetentionReason, RetentionRule } from "./domain/retention.ts";
export type { PlannedRetention } from "./domain/reconcile.ts";
export type { BackupEncryptor, EncryptedDownload } from "./domain/ports.ts";
export { AgeBackupEncryptor } from "./adapters/age/age-encryptor.ts";
export { parseAgeRecipients } from "./adapters/age/age-recipients.ts";
export { AGE_IDENTITY_FILE_ENV, decryptAgeStream, noIdentityNote, parseAgeIdentities, readAgeIdentityFile, restoreContent, restoreDecryption } from "./adapters/age/age-decryptor.ts";
export type { AgeIdentities, RestoreDecryption } from "./adapters/age/age-decryptor.ts";
