/**
 * The read-only commands' start (`status`, `list`, `restore`): the settings, the secrets registered
 * with the run's redactor, Dropbox authorized (or a clear failure saying how), and the run module
 * loaded, so UNMS and the target are reached exactly as `sync` reaches them. No run lock: nothing
 * here writes to UNMS or to the target.
 */
import type { Container } from "inversify";
import { SyncError } from "../domain/errors.ts";
import type { AccessTokenProvider, BackupSource, BackupStore, DownloadLedger } from "../domain/ports.ts";
import type { LoadedSettings } from "./ports.ts";
import { tokenSessionModule } from "./compose.ts";
import { syncModule } from "./container.ts";
import { ids } from "./service-ids.ts";
import { healthcheckSecrets } from "../domain/healthcheck-secrets.ts";

export interface OpenTargetInput {
  container: Container;
  unmsFetch?: typeof fetch;
  dropboxFetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface OpenTarget {
  settings: LoadedSettings;
  source: BackupSource;
  store: BackupStore;
  ledger: DownloadLedger;
  /** "Dropbox app folder /Backups" or "local folder /srv/x". */
  targetDescription: string;
}

export async function openTarget(input: OpenTargetInput): Promise<OpenTarget> {
  const configStore = input.container.get(ids.ConfigStore);
  const reporter = input.container.get(ids.EntryReporter);
  const redactor = input.container.get(ids.Redactor);
  const settings = await configStore.load();
  redactor.register([settings.unmsApiToken, settings.dropboxAppSecret, settings.dropboxAccessCode, settings.dropboxRefreshToken, settings.dropboxAccessToken]);
  redactor.register(settings.healthcheckUrl ? healthcheckSecrets(settings.healthcheckUrl) : []);

  let tokens: AccessTokenProvider | undefined;
  if (!settings.targetDir) {
    input.container.load(tokenSessionModule(settings, input.dropboxFetch ? { dropboxFetch: input.dropboxFetch } : {}));
    const auth = await input.container.get(ids.TokenSession).start(settings);
    if (auth.status === "awaiting-user") {
      throw new SyncError(`Dropbox is not authorized yet, so the copies cannot be read. ${auth.message}\n${auth.url}`, {
        kind: "authorization-required",
        code: "auth.awaiting_user",
      });
    }
    tokens = auth.tokens;
  }
  input.container.load(syncModule({
    settings,
    reporter,
    redactor,
    ...(tokens ? { tokens } : {}),
    ...(input.unmsFetch ? { unmsFetch: input.unmsFetch } : {}),
    ...(input.dropboxFetch ? { dropboxFetch: input.dropboxFetch } : {}),
    ...(input.sleep ? { sleep: input.sleep } : {}),
    ...(settings.dropboxBaseUrl ? { dropboxBaseUrl: settings.dropboxBaseUrl } : {}),
  }));
  return {
    settings,
    source: input.container.get(ids.BackupSource),
    store: input.container.get(ids.BackupStore),
    ledger: input.container.get(ids.DownloadLedger),
    targetDescription: input.container.get(ids.TargetDescription),
  };
}
