/**
 * Starting a backup download part-way (a resumed upload). Whether UNMS honours `Range` is not
 * documented, so both answers are handled: 206 with the Content-Range asked for is used as it is;
 * 200 (the whole body) has its first bytes read and dropped (skipBytes, src/domain/skip-bytes.ts),
 * so the caller always gets the stream from the offset it asked for.
 */

/** `bytes=N-`: everything from byte N on. */
export function rangeHeader(offset: number): string {
  return `bytes=${offset}-`;
}

/**
 * Why a 206 answer's Content-Range does not start at `offset` (undefined when it does).
 * RFC 9110: `bytes first-last/complete` or `bytes first-last/*`.
 */
export function contentRangeProblem(header: string | null, offset: number): string | undefined {
  if (header === null) return "it has no Content-Range header";
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(header);
  if (!match) return `its Content-Range "${header.slice(0, 80)}" cannot be read`;
  if (Number(match[1]) !== offset) return `its Content-Range "${header}" does not start at byte ${offset}`;
  if (match[3] !== "*" && Number(match[2]) !== Number(match[3]) - 1) return `its Content-Range "${header}" does not run to the end`;
  return undefined;
}
