/**
 * A folder inside the storage target (the Dropbox app folder, or the local target folder): its
 * segments joined by "/", no slash at either end, "" for the root. Only `parseFolder` makes one, so
 * whoever holds a `Folder` knows it has no empty, "." or ".." segment and cannot climb out.
 */
declare const folderBrand: unique symbol;

/** A validated folder: build it with `parseFolder`. */
export type Folder = string & { readonly [folderBrand]: true };

/** The root of the target (the app folder itself). */
export const ROOT_FOLDER = "" as Folder;

/** Why a folder text is not usable; the caller names the setting it came from. */
export const FOLDER_RULE = 'folder names may not be empty, "." or ".."';

/**
 * `text` as a Folder: spaces around it and slashes at either end are dropped. A problem (without the
 * text itself, which the caller shows as it sees fit) when a segment is empty, "." or "..".
 */
export function parseFolder(text: string): { folder: Folder } | { problem: string; normalized: string } {
  const normalized = text.trim().replace(/^\/+|\/+$/g, "");
  const bad = normalized !== "" && normalized.split("/").some((part) => part === "" || part.trim() === "." || part.trim() === "..");
  return bad ? { problem: FOLDER_RULE, normalized } : { folder: normalized as Folder };
}

/** The folder's segments: [] for the root. */
export function folderSegments(folder: Folder): string[] {
  return folder === "" ? [] : folder.split("/");
}
