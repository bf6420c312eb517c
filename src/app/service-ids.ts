/**
 * Service identifiers for the inversify container: one typed `Symbol.for` constant per role.
 * Wiring uses `toResolvedValue(factory, [ids])`, so nothing relies on emitted decorator metadata.
 */
import type { ServiceIdentifier } from "inversify";
import type { AccessTokenProvider, BackupSource, BackupStore, Clock, DownloadLedger, Reporter } from "../domain/ports.ts";
import type { Settings } from "../domain/settings.ts";
import type { SyncBackups } from "./sync-backups.ts";
import type { ConfigStore, RunLockAcquirer, UploadSessionStore } from "./ports.ts";
import type { PluginLog } from "../adapters/report/plugin-log.ts";
import type { Redactor } from "../domain/ports.ts";
import type { TokenSession } from "./token-session.ts";

const id = <T>(name: string): ServiceIdentifier<T> => Symbol.for(`unms-dropbox-backup-sync.${name}`);

export const ids = {
  Settings: id<Settings>("Settings"),
  Reporter: id<Reporter>("Reporter"),
  Clock: id<Clock>("Clock"),
  /** `fetch` for UNMS calls. */
  UnmsFetch: id<typeof fetch>("UnmsFetch"),
  AccessTokenProvider: id<AccessTokenProvider>("AccessTokenProvider"),
  BackupSource: id<BackupSource>("BackupSource"),
  BackupStore: id<BackupStore>("BackupStore"),
  /** Unfinished uploads kept between runs (upload-sessions.json in the state folder). */
  UploadSessionStore: id<UploadSessionStore>("UploadSessionStore"),
  /** Where copies go, for people: "Dropbox app folder /backups" or "local folder /srv/x". */
  TargetDescription: id<string>("TargetDescription"),
  SyncBackups: id<SyncBackups>("SyncBackups"),
  /** Bytes downloaded per backup in earlier runs (`downloads.json` in the state folder). */
  DownloadLedger: id<DownloadLedger>("DownloadLedger"),

  // Bound by the entry profiles of compose.ts:
  /** Every secret of the run is registered here; every output path redacts through it. */
  Redactor: id<Redactor>("Redactor"),
  ConfigStore: id<ConfigStore>("ConfigStore"),
  /** Where the entry's lines go; the run module binds Reporter to the same object. */
  EntryReporter: id<Reporter>("EntryReporter"),
  RunLock: id<RunLockAcquirer>("RunLock"),
  /** The plugin's data/plugin.log (UCRM profile only). */
  PluginLog: id<PluginLog>("PluginLog"),
  /** The run's one driver of the token lifecycle (loaded with tokenSessionModule). */
  TokenSession: id<TokenSession>("TokenSession"),
} as const;
