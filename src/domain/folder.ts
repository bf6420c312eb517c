/**
 * A folder inside the storage target (the Dropbox app folder, or the local target folder): its
 * segments joined by "/", no slash at either end, "" for the root. Only `parseFolder` makes one, so
 * whoever holds a `Folder` knows it has no empty, "." or ".." segment, cannot climb out, and has no
 * segment Dropbox would refuse (checked here, before a single byte is uploaded).
 */
declare const folderBrand: unique symbol;

/** A validated folder: build it with `parseFolder`. */
export type Folder = string & { readonly [folderBrand]: true };

/** The root of the target (the app folder itself). */
export const ROOT_FOLDER = "" as Folder;

/** Why a folder text is not usable when a segment is empty, "." or ".."; the caller names the setting. */
export const FOLDER_RULE = 'folder names may not be empty, "." or ".."';

/** Dropbox refuses path components longer than this (characters). */
export const MAX_FOLDER_NAME_CHARS = 255;

/** Characters Dropbox (and the Windows/macOS clients that sync the folder) refuse in a name. */
const REFUSED_CHARACTERS = /[\\:?*"<>|\u0000-\u001f\u007f]/u;

/** Names Dropbox will not store, compared without case. */
const REFUSED_NAMES = new Set(["desktop.ini", "thumbs.db", ".ds_store", "icon\r", ".dropbox", ".dropbox.attr"]);

/**
 * `text` as a Folder: spaces around it and slashes at either end are dropped. A problem (without the
 * whole text, which the caller shows as it sees fit) naming the first segment that cannot be used;
 * `hide` says when a segment must not be quoted (a secret pasted into the wrong setting).
 */
export function parseFolder(text: string, hide: (segment: string) => boolean = () => false): { folder: Folder } | { problem: string; normalized: string } {
  const normalized = text.trim().replace(/^\/+|\/+$/g, "");
  if (normalized === "") return { folder: ROOT_FOLDER };
  const segments = normalized.split("/");
  if (segments.some((part) => part === "" || part.trim() === "." || part.trim() === "..")) return { problem: FOLDER_RULE, normalized };
  for (const segment of segments) {
    const problem = segmentProblem(segment, hide(segment));
    if (problem) return { problem, normalized };
  }
  return { folder: normalized as Folder };
}

/** Why Dropbox would refuse `segment` as a folder name (checked after the empty, "." and ".." rule). */
function segmentProblem(segment: string, hidden: boolean): string | undefined {
  const length = [...segment].length;
  const name = hidden ? "(not shown)" : JSON.stringify(length > 40 ? `${[...segment].slice(0, 40).join("")}…` : segment);
  if (length > MAX_FOLDER_NAME_CHARS) {
    return `the folder name ${name} is ${length} characters long; Dropbox allows at most ${MAX_FOLDER_NAME_CHARS} per name`;
  }
  const refused = REFUSED_CHARACTERS.exec(segment);
  if (refused) {
    const what = /[\u0000-\u001f\u007f]/u.test(refused[0]) ? "a control character" : `"${refused[0]}"`;
    return `the folder name ${name} contains ${what}; Dropbox refuses \\ : ? * " < > | and control characters in names`;
  }
  if (/[. ]$/.test(segment)) return `the folder name ${name} ends with a ${segment.endsWith(".") ? "dot" : "space"}, which Dropbox refuses`;
  if (/^ /.test(segment)) return `the folder name ${name} starts with a space, which Dropbox refuses`;
  if (REFUSED_NAMES.has(segment.toLowerCase())) return `${name} is a name Dropbox refuses to store`;
  return undefined;
}

/** The folder's segments: [] for the root. */
export function folderSegments(folder: Folder): string[] {
  return folder === "" ? [] : folder.split("/");
}
