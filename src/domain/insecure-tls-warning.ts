/**
 * What a run with UNMS certificate verification turned off tells the admin. A message about a
 * setting, said by every entry (the CLI, the plugin, the library), so it lives with the domain.
 */

/** The warning every run with verification off gets, naming the setting. */
export function insecureTlsWarning(setting: string): string {
  return `${setting} is on: the UNMS certificate is not verified, so anyone between here and UNMS could read the API token and the backups. Set a CA file instead (UNMS_CA_FILE / unmsCaFile / unms.caFile) and turn ${setting} off.`;
}
