<?php
/*
 * UCRM runs this file with PHP. The plugin itself is the bundled JavaScript next to it (cli.mjs);
 * this launcher only finds a runtime (Node.js >= 20 or Deno >= 2), runs the bundle with the
 * environment passed through, and exits with its exit code. PHP 7.4+.
 */

declare(strict_types=1);

const BSD_MIN_NODE_MAJOR = 20;
const BSD_MIN_DENO_MAJOR = 2;

$pluginDir = __DIR__;
$script = $pluginDir . DIRECTORY_SEPARATOR . 'cli.mjs';

if (!is_file($script)) {
    bsd_fail($pluginDir, sprintf(
        'The plugin is incomplete: %s is missing. Reinstall the plugin from its zip file (backup-sync-dropbox.zip).',
        $script
    ));
}

$problems = [];
$runtime = bsd_configured_runtime($pluginDir, $problems) ?? bsd_runtime_on_path($problems);
if ($runtime === null) {
    bsd_fail($pluginDir, bsd_no_runtime_message($problems));
}

$command = $runtime['kind'] === 'deno'
    ? [$runtime['path'], 'run', '-A', $script, 'ucrm', '--plugin-dir', $pluginDir]
    : [$runtime['path'], $script, 'ucrm', '--plugin-dir', $pluginDir];

// null environment: the child inherits ours unchanged.
$process = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => STDOUT, 2 => STDERR], $pipes, null, null);
if (!is_resource($process)) {
    bsd_fail($pluginDir, sprintf('Could not start %s (%s). Check that it is executable by the user running UCRM.', $runtime['path'], $runtime['version']));
}
// Polled rather than proc_close()d, because only proc_get_status() tells a kill from an exit.
do {
    $status = proc_get_status($process);
    if ($status['running']) {
        usleep(100000);
    }
} while ($status['running']);
proc_close($process);
if ($status['signaled']) {
    bsd_fail($pluginDir, sprintf(
        'The sync (%s) was killed by signal %d before it finished, so this run may be incomplete. '
        . 'Signal 9 usually means the container ran out of memory or the run hit UCRM\'s one-hour limit. The next run uploads whatever is still missing.',
        $runtime['version'],
        $status['termsig']
    ));
}
$exitCode = $status['exitcode'];
exit($exitCode >= 0 && $exitCode <= 255 ? $exitCode : 1);

/**
 * The runtime named by the runtimePath setting or the BACKUP_SYNC_RUNTIME variable, if any.
 * A named runtime that does not work is reported, not silently replaced by another one.
 *
 * @param list<string> $problems
 * @return array{kind: string, path: string, version: string}|null
 */
function bsd_configured_runtime(string $pluginDir, array &$problems): ?array
{
    $config = @json_decode((string) @file_get_contents($pluginDir . '/data/config.json'), true);
    $fromConfig = is_array($config) && is_string($config['runtimePath'] ?? null) ? trim($config['runtimePath']) : '';
    $fromEnv = trim((string) getenv('BACKUP_SYNC_RUNTIME'));
    $source = $fromConfig !== '' ? 'the "JavaScript runtime path" setting (runtimePath)' : 'the BACKUP_SYNC_RUNTIME environment variable';
    $path = $fromConfig !== '' ? $fromConfig : $fromEnv;
    if ($path === '') {
        return null;
    }
    if (!is_file($path) || !is_executable($path)) {
        bsd_fail($pluginDir, sprintf(
            '%s names %s, which is not an executable file. Correct it to the full path of a node (%d or newer) or deno binary, or clear it to look up node and deno on PATH.',
            ucfirst($source), $path, BSD_MIN_NODE_MAJOR
        ));
    }
    $runtime = bsd_identify($path, $problems);
    if ($runtime === null) {
        bsd_fail($pluginDir, sprintf(
            '%s names %s, which cannot be used: %s. Point it at node %d or newer, or deno %d or newer.',
            ucfirst($source), $path, implode('; ', $problems), BSD_MIN_NODE_MAJOR, BSD_MIN_DENO_MAJOR
        ));
    }
    return $runtime;
}

/**
 * The first node (new enough) on PATH, else the first deno (new enough).
 *
 * @param list<string> $problems
 * @return array{kind: string, path: string, version: string}|null
 */
function bsd_runtime_on_path(array &$problems): ?array
{
    $dirs = array_filter(explode(PATH_SEPARATOR, (string) getenv('PATH')), 'strlen');
    foreach (['node', 'deno'] as $name) {
        foreach ($dirs as $dir) {
            $path = rtrim($dir, '/') . '/' . $name;
            if (is_file($path) && is_executable($path)) {
                $runtime = bsd_identify($path, $problems);
                if ($runtime !== null) {
                    return $runtime;
                }
            }
        }
    }
    return null;
}

/**
 * Asks a binary for its version: node prints "v20.11.1", deno "deno 2.1.4 (...)".
 *
 * @param list<string> $problems
 * @return array{kind: string, path: string, version: string}|null
 */
function bsd_identify(string $path, array &$problems): ?array
{
    $output = bsd_output_of([$path, '--version']);
    if ($output === null) {
        $problems[] = sprintf('%s --version failed', $path);
        return null;
    }
    if (preg_match('/^v(\d+)\.\d+\.\d+/', $output, $m) === 1) {
        [$kind, $major, $minimum, $version] = ['node', (int) $m[1], BSD_MIN_NODE_MAJOR, 'Node.js ' . strtok($output, "\n")];
    } elseif (preg_match('/^deno (\d+)\.\d+\.\d+/', $output, $m) === 1) {
        [$kind, $major, $minimum, $version] = ['deno', (int) $m[1], BSD_MIN_DENO_MAJOR, strtok($output, "\n")];
    } else {
        $problems[] = sprintf('%s is neither node nor deno (its --version printed "%s")', $path, substr(strtok($output, "\n") ?: '', 0, 80));
        return null;
    }
    if ($major < $minimum) {
        $problems[] = sprintf('%s is %s, which is too old: %d or newer is needed', $path, $version, $minimum);
        return null;
    }
    return ['kind' => $kind, 'path' => $path, 'version' => $version];
}

/** @param list<string> $command */
function bsd_output_of(array $command): ?string
{
    $process = @proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
    if (!is_resource($process)) {
        return null;
    }
    $output = stream_get_contents($pipes[1]);
    fclose($pipes[1]);
    return proc_close($process) === 0 && is_string($output) ? trim($output) : null;
}

/** @param list<string> $problems */
function bsd_no_runtime_message(array $problems): string
{
    $found = $problems === [] ? 'Neither node nor deno is on PATH' : ucfirst(implode('; ', $problems));
    return sprintf(
        'Cannot run the backup sync: it needs Node.js %d or newer (or Deno %d or newer), and none was found. %s (searched PATH "%s"). '
        . 'Install Node.js in the UCRM container, e.g. `docker exec -it ucrm apk add nodejs` (check `docker exec ucrm node --version` shows %d or newer), '
        . 'or set "JavaScript runtime path" (runtimePath) in the plugin configuration to the full path of a node or deno binary. Then run the plugin again.',
        BSD_MIN_NODE_MAJOR,
        BSD_MIN_DENO_MAJOR,
        $found,
        (string) getenv('PATH'),
        BSD_MIN_NODE_MAJOR
    );
}

/** Tells the admin through data/plugin.log (the log the UCRM UI shows), in the sync's own format. */
function bsd_fail(string $pluginDir, string $message): void
{
    $dataDir = $pluginDir . '/data';
    if (!is_dir($dataDir)) {
        @mkdir($dataDir, 0775, true);
    }
    $line = sprintf("ERROR: %s (%s)\n", $message, gmdate('Y-m-d\TH:i:sP'));
    @file_put_contents($dataDir . '/plugin.log', $line, FILE_APPEND | LOCK_EX);
    fwrite(STDERR, $line);
    exit(1);
}
