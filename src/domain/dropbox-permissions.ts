/**
 * The one list of Dropbox permissions (scopes) a sync needs: it lists the folder and uploads, and
 * never downloads from Dropbox. Messages, the README, the plugin README and the UCRM form say this
 * list (a test keeps them in step).
 */
export const DROPBOX_PERMISSIONS = ["files.metadata.read", "files.content.write"] as const;

/** The one more permission `backup-sync restore` needs to download a copy (the UCRM plugin never restores). */
export const DROPBOX_RESTORE_PERMISSION = "files.content.read";

/** "files.metadata.read and files.content.write", for a sentence. */
export function dropboxPermissionsText(): string {
  return DROPBOX_PERMISSIONS.join(" and ");
}
