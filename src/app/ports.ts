/**
 * The ports the app layer calls (the domain's own are in src/domain/ports.ts). Adapters implement
 * them and import this file only; the app never imports an adapter's types for them.
 *
 * ConfigStore: where one run's settings come from and where the Dropbox authorization outcome is
 * written back. Two adapters: `UcrmFileConfigStore` (ucrm.json + data/config.json) and
 * `EnvConfigStore` (environment variables + files in STATE_DIR). Both pass
 * src/testing/contract/config-store.ts.
 */
import type { SettingLabels } from "../domain/legacy-migration.ts";
import type { ByteStream } from "../domain/ports.ts";
import type { Settings } from "../domain/settings.ts";

/**
 * A change to the configuration after an authorization step. `null` clears a value; an absent
 * field leaves it as it was.
 */
export interface ConfigPatch {
  /** The refresh token obtained by a code exchange, or null to forget a revoked one. */
  dropboxRefreshToken?: string | null;
  /** Cleared once the code was exchanged (codes are single use), or once Dropbox refused it. */
  dropboxAccessCode?: null;
  /** Set with `dropboxAccessCode: null` when Dropbox refused the code: the run's message already says what to do. */
  accessCodeRejected?: true;
  /** Cleared once the legacy long-lived token was replaced by a refresh token. */
  dropboxAccessToken?: null;
  /** The UCRM checkbox is one-shot: set to false after the run that used it (other stores ignore it). */
  allowMassDelete?: false;
}

export interface SaveOutcome {
  /**
   * What the store could not do itself and the person must do, e.g. "remove DROPBOX_ACCESS_TOKEN
   * from the environment". Empty when everything was written.
   */
  notes: string[];
}

/** State the admin never edits, kept apart from the configuration (UCRM drops unknown keys). */
export interface PrivateState {
  /** PKCE verifier of the authorization URL last shown, for the app key it was made for. */
  pkceVerifier?: string;
  pkceClientId?: string;
  /**
   * SHA-256 (hex) of the last access code exchanged, so a code left in a store that cannot clear
   * it (the environment) is not exchanged a second time.
   */
  usedAccessCodeSha256?: string;
  /** What the last `sync` run ended with, for `status` and the next run. */
  lastRun?: RunRecord;
}

/** The outcome of one sync run, kept in the private state (texts redacted before they are kept). */
export interface RunRecord {
  /** ISO 8601. */
  finishedAt: string;
  exitCode: number;
  /** The run's one-line summary, e.g. "Sync finished: 1 uploaded, 4 already stored, 0 deleted." */
  summary: string;
  counts: { uploaded: number; skipped: number; deleted: number; failed: number };
  /** Every failure and staleness problem of the run, redacted; at most 20, each at most 500 characters. */
  failures: string[];
  /** finishedAt of the newest run that exited 0 (this one, or carried over from before). */
  lastSuccessAt?: string;
}

/**
 * What a store loads: the domain's Settings, plus the test-only knob that points Dropbox's API hosts
 * at a loopback fake (DROPBOX_BASE_URL / config.json dropboxBaseUrl). The knob is no setting of the
 * domain; the composition hands it to the HTTP layer only.
 */
export interface LoadedSettings extends Settings {
  /** Test only: replaces scheme and host of Dropbox's API hosts. */
  dropboxBaseUrl?: string;
}

/**
 * The ConfigStore port: settings in, the authorization outcome written back.
 *
 * @example
 * ```ts
 * import { UcrmFileConfigStore, type ConfigStore } from "unms-dropbox-backup-sync";
 *
 * const store: ConfigStore = new UcrmFileConfigStore("/data/ucrm/data/plugins/backup-sync-dropbox");
 * ```
 */
export interface ConfigStore {
  /** Where the settings live, for messages: e.g. "/data/config.json" or "the environment". */
  readonly location: string;
  /** How the admin knows the Dropbox settings here (env variable names or config.json keys). */
  readonly labels: SettingLabels;
  /** How messages name the folders a run writes (default "TARGET_DIR" and "STATE_DIR"). */
  readonly folderNames?: { targetDir: string; stateDir: string };
  /** Settings of this run, validated; throws SyncError kind "config" listing every problem. */
  load(): Promise<LoadedSettings>;
  /** Writes `patch` atomically, keeping every other key and value as it was. */
  save(patch: ConfigPatch): Promise<SaveOutcome>;
  readPrivateState(): Promise<PrivateState>;
  /** Replaces the private state (atomically, file mode 0600). */
  writePrivateState(state: PrivateState): Promise<void>;
}

/**
 * OAuthClient: Dropbox's token endpoint, owned by us because the SDK's DropboxAuth puts
 * client secret, code and refresh token in the URL query string (where proxies and logs keep them).
 */
export interface TokenGrant {
  accessToken: string;
  /** Lifetime Dropbox announced (`expires_in`), in seconds. */
  expiresInSeconds: number;
  /** Only code exchanges with token_access_type=offline return one. */
  refreshToken?: string;
}

export interface ClientCredentials {
  clientId: string;
  /** Absent for PKCE. */
  clientSecret?: string;
}

export interface OAuthClient {
  authorizationUrl(params: { clientId: string; codeChallenge?: string }): string;
  /** Exchanges a pasted code; with PKCE pass the verifier instead of a secret. */
  exchangeCode(params: ClientCredentials & { code: string; codeVerifier?: string }, signal?: AbortSignal): Promise<TokenGrant>;
  refresh(params: ClientCredentials & { refreshToken: string }, signal?: AbortSignal): Promise<TokenGrant>;
}

/**
 * PKCE (RFC 7636, S256) for the authorization URL: a fresh code verifier, and the challenge sent in
 * its place. The token session keeps the verifier in private state until the code comes back.
 */
export interface Pkce {
  createCodeVerifier(): string;
  codeChallengeS256(verifier: string): string;
}

/** A run lock held in a state folder: two runs never work on the same state at once. */
export interface RunLock {
  readonly path: string;
  /** Removes the lock if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

/** Takes the run lock in a state folder; `onStale` hears about a lock taken over from a dead run. */
export type RunLockAcquirer = (stateDir: string, onStale: (info: string) => void) => Promise<RunLock>;

/**
 * An upload that a run began and did not finish, kept in the private state so the next run can
 * continue it (a Dropbox upload session, or a local partial file).
 */
export interface UploadSessionRecord {
  backupId: string;
  /** Dropbox session id; "" for a local partial file. */
  sessionId: string;
  folder: string;
  name: string;
  /** Bytes the target holds for sure (always a whole number of 4 MiB hash blocks). */
  bytesCommitted: number;
  /** Dropbox content-hash state: hex SHA-256 of each completed 4 MiB block, in order. */
  blockHashes: string[];
  /** Wall-clock ISO time the upload began (Dropbox sessions live 7 days). */
  startedAt: string;
  /**
   * A Dropbox concurrent upload session: the chunk size its offsets follow, and the offsets of the
   * chunks Dropbox acknowledged beyond `bytesCommitted` (lanes finish out of order), and those sent
   * whose answer had not come when this was saved (`chunksInFlight`: their fate is unknown, so the
   * session cannot be continued). Absent: sequential.
   */
  concurrent?: { chunkBytes: number; chunksAhead: number[]; chunksInFlight?: number[] };
}

/** Keeps UploadSessionRecords, one per backup id; every save replaces the record atomically. */
export interface UploadSessionStore {
  get(backupId: string): Promise<UploadSessionRecord | undefined>;
  all(): Promise<UploadSessionRecord[]>;
  save(record: UploadSessionRecord): Promise<void>;
  remove(backupId: string): Promise<void>;
}

/**
 * Checks, before any download, that a folder a run writes into can be written (created when
 * missing); throws a config SyncError naming `setting` (e.g. "TARGET_DIR") and what is wrong.
 */
export type WritableFolderCheck = (path: string, setting: string) => Promise<void>;

/**
 * Health-check pings around one run (the healthchecks.io convention). A ping never changes the
 * run's outcome: a failed one resolves to the text of a warning, else to undefined.
 */
export interface HealthcheckNotifier {
  /** Pings that the run began. */
  start(): Promise<string | undefined>;
  /** Pings the run's exit code with its text summary. */
  finish(exitCode: number, summary: string): Promise<string | undefined>;
}

/**
 * The notifier for the check at `url` (a secret: registered with the run's redactor); `sleep` is how
 * its retry waits (tests pass one that does not).
 */
export type HealthcheckNotifierFactory = (url: string, sleep?: (ms: number) => Promise<void>) => HealthcheckNotifier;

/** Dropbox's content hash of a stream of bytes, fed piece by piece (a restored copy is checked with it). */
export interface ContentHasher {
  /** Feeds the next bytes, in order. */
  update(bytes: Uint8Array): unknown;
  /** The hash of everything fed (64 lowercase hex characters); ends the hasher. */
  digest(): string;
}

/** A fresh ContentHasher per file. */
export type ContentHasherFactory = () => ContentHasher;

/** What restore does with one stored copy: decrypted (an encrypted copy, with identities), or as it is, with a note saying how to decrypt it. */
export type RestoreDecryption = (copy: { name: string; stream: ByteStream }) => { name: string; stream: ByteStream; note?: string };

/**
 * Restore's decryption, ready before any download: reads the identity file when one is given
 * (`label` names where it came from in errors, e.g. "--identity"), registers its keys with the run's
 * redactor, and returns what to do with each copy.
 */
export type RestoreDecryptionFactory = (options: { identityFile: string | undefined; label: string }) => Promise<RestoreDecryption>;

/**
 * Where `restore` writes a copy on this machine: the file appears at its path whole and synced to
 * disk, or not at all. Failures are SyncErrors naming the path.
 */
export interface RestoreFileOutput {
  /**
   * `to` made absolute (relative to the working directory). Unless `replace`, a config SyncError
   * (`restore.exists`) when something is there already: restore checks it before any download.
   */
  destination(to: string, replace: boolean): Promise<string>;
  /**
   * Writes `bytes` into a new temporary file beside `path` (exclusive create, mode 0600), fsyncs it,
   * moves it to `path` (over an existing file only with `replace`) and fsyncs the folder. When the
   * bytes or a file step fail, the temporary file is removed and `path` is left as it was.
   */
  write(path: string, bytes: AsyncIterable<Uint8Array>, options: RestoreWriteOptions): Promise<void>;
}

export interface RestoreWriteOptions {
  /** Replace a file already at the path. */
  replace: boolean;
  signal?: AbortSignal;
  /** Called with the running count of bytes written. */
  onProgress?: (bytes: number) => void;
}
