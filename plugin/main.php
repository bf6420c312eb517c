<?php
/*
 * UCRM runs this file with PHP. The plugin itself is the bundled JavaScript next to it (cli.mjs);
 * this launcher finds a runtime (Node.js >= 16.14, Deno >= 2 or Bun >= 1.1), runs the bundle with
 * the environment passed through, and exits with its exit code.
 *
 * When no usable runtime is found (and runtimePath is empty), it provisions the one pinned for this
 * platform in runtime.json: downloads the npm tarball, checks its sha512 before unpacking anything,
 * unpacks only the executable (PHP's own zlib stream and a tar reader, no shell tools) and installs
 * it atomically under data/runtime/<name>-<version>/, which UCRM keeps across upgrades. PHP 7.4+.
 *
 * Tests include this file with BSD_LAUNCHER_NO_MAIN defined to call the helpers one by one.
 */

declare(strict_types=1);

const BSD_MIN_NODE = [16, 14];
const BSD_MIN_DENO_MAJOR = 2;
const BSD_MIN_BUN = [1, 1];
const BSD_LOG_MAX_LINES = 256;
/** Seconds without a byte before a download counts as stalled, and for a whole download (tests lower them). */
if (!defined('BSD_DOWNLOAD_IDLE_TIMEOUT')) {
    define('BSD_DOWNLOAD_IDLE_TIMEOUT', 60);
}
if (!defined('BSD_DOWNLOAD_TOTAL_TIMEOUT')) {
    define('BSD_DOWNLOAD_TOTAL_TIMEOUT', 1200);
}
const BSD_CHUNK = 1048576;
const BSD_NEEDS = 'Node.js 16.14 or newer (or Deno 2 or newer, or Bun 1.1 or newer)';

if (!defined('BSD_LAUNCHER_NO_MAIN')) {
    bsd_main(__DIR__);
}

function bsd_main(string $pluginDir): void
{
    $script = $pluginDir . DIRECTORY_SEPARATOR . 'cli.mjs';
    if (!is_file($script)) {
        bsd_fail($pluginDir, sprintf(
            'The plugin is incomplete: %s is missing. Reinstall the plugin from its zip file (backup-sync-dropbox.zip).',
            $script
        ));
    }
    // The run starts here now, so the log is trimmed here (the bundle is told not to trim again).
    bsd_trim_log($pluginDir);

    $config = bsd_read_config($pluginDir);
    $problems = [];
    $runtime = bsd_configured_runtime($pluginDir, $config, $problems)
        ?? bsd_runtime_on_path($problems)
        ?? bsd_provisioned_runtime($pluginDir, $config, $problems);
    if ($runtime === null) {
        bsd_fail($pluginDir, bsd_no_runtime_message($problems));
    }
    bsd_log($pluginDir, sprintf(
        'Running the sync with %s (%s, %s%s).',
        $runtime['version'],
        $runtime['path'],
        $runtime['source'],
        $problems === [] ? '' : '; passed over: ' . implode('; ', $problems)
    ));

    $command = $runtime['kind'] === 'deno'
        ? [$runtime['path'], 'run', '-A', $script, 'ucrm', '--plugin-dir', $pluginDir]
        : [$runtime['path'], $script, 'ucrm', '--plugin-dir', $pluginDir];

    $env = getenv();
    $env['BACKUP_SYNC_PLUGIN_LOG_TRIMMED'] = '1';
    $process = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => STDOUT, 2 => STDERR], $pipes, null, $env);
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
}

/** @return array<string, mixed> data/config.json, or nothing when it is missing or unreadable (the bundle reports that). */
function bsd_read_config(string $pluginDir): array
{
    $config = @json_decode((string) @file_get_contents($pluginDir . '/data/config.json'), true);
    return is_array($config) ? $config : [];
}

/**
 * The runtime named by the runtimePath setting or the BACKUP_SYNC_RUNTIME variable, if any.
 * A named runtime that does not work is reported, not silently replaced by another one.
 *
 * @param array<string, mixed> $config
 * @param list<string> $problems
 * @return array{kind: string, path: string, version: string, source: string}|null
 */
function bsd_configured_runtime(string $pluginDir, array $config, array &$problems): ?array
{
    $fromConfig = is_string($config['runtimePath'] ?? null) ? trim($config['runtimePath']) : '';
    $fromEnv = trim((string) getenv('BACKUP_SYNC_RUNTIME'));
    $source = $fromConfig !== '' ? 'the "JavaScript runtime path" setting (runtimePath)' : 'the BACKUP_SYNC_RUNTIME environment variable';
    $path = $fromConfig !== '' ? $fromConfig : $fromEnv;
    if ($path === '') {
        return null;
    }
    if (!is_file($path) || !is_executable($path)) {
        bsd_fail($pluginDir, sprintf(
            '%s names %s, which is not an executable file. Correct it to the full path of a node (16.14 or newer), deno or bun binary, or clear it to look up node, deno and bun on PATH.',
            ucfirst($source), $path
        ));
    }
    $runtime = bsd_identify($path, $problems);
    if ($runtime === null) {
        bsd_fail($pluginDir, sprintf(
            '%s names %s, which cannot be used: %s. Point it at %s.',
            ucfirst($source), $path, implode('; ', $problems), BSD_NEEDS
        ));
    }
    $runtime['source'] = $fromConfig !== '' ? 'from runtimePath' : 'from BACKUP_SYNC_RUNTIME';
    return $runtime;
}

/**
 * The first node (new enough) on PATH, else the first deno, else the first bun.
 *
 * @param list<string> $problems
 * @return array{kind: string, path: string, version: string, source: string}|null
 */
function bsd_runtime_on_path(array &$problems): ?array
{
    $dirs = array_filter(explode(PATH_SEPARATOR, (string) getenv('PATH')), 'strlen');
    foreach (['node', 'deno', 'bun'] as $name) {
        foreach ($dirs as $dir) {
            $path = rtrim($dir, '/') . '/' . $name;
            if (is_file($path) && is_executable($path)) {
                $runtime = bsd_identify($path, $problems);
                if ($runtime !== null) {
                    $runtime['source'] = 'found on PATH';
                    return $runtime;
                }
            }
        }
    }
    return null;
}

/**
 * Asks a binary for its version: node prints "v20.11.1", deno "deno 2.1.4 (...)", bun "1.4.5".
 *
 * @param list<string> $problems
 * @return array{kind: string, path: string, version: string}|null
 */
function bsd_identify(string $path, array &$problems): ?array
{
    $output = bsd_output_of([$path, '--version']);
    if ($output === null) {
        $problems[] = sprintf('%s --version failed (a binary for another system, or missing libraries)', $path);
        return null;
    }
    $first = (string) strtok($output, "\n");
    $verdict = bsd_version_verdict(basename($path), $first);
    if (isset($verdict['problem'])) {
        $problems[] = sprintf('%s %s', $path, $verdict['problem']);
        return null;
    }
    return ['kind' => $verdict['kind'], 'path' => $path, 'version' => $verdict['version']];
}

/**
 * What a runtime's first `--version` line says: its kind and version, or why it cannot be used.
 *
 * @return array{kind?: string, version?: string, problem?: string}
 */
function bsd_version_verdict(string $basename, string $line): array
{
    if (preg_match('/^v(\d+)\.(\d+)\.(\d+)/', $line, $m) === 1) {
        $ok = [(int) $m[1], (int) $m[2]] >= BSD_MIN_NODE;
        return $ok ? ['kind' => 'node', 'version' => 'Node.js ' . $line]
            : ['problem' => sprintf('is Node.js %s, which is too old: 16.14 or newer is needed', $line)];
    }
    if (preg_match('/^deno (\d+)\.\d+\.\d+/', $line, $m) === 1) {
        return (int) $m[1] >= BSD_MIN_DENO_MAJOR ? ['kind' => 'deno', 'version' => $line]
            : ['problem' => sprintf('is %s, which is too old: Deno 2 or newer is needed', $line)];
    }
    if (strpos($basename, 'bun') === 0 && preg_match('/^(\d+)\.(\d+)\.(\d+)/', $line, $m) === 1) {
        $ok = [(int) $m[1], (int) $m[2]] >= BSD_MIN_BUN;
        return $ok ? ['kind' => 'bun', 'version' => 'Bun ' . $line]
            : ['problem' => sprintf('is Bun %s, which is too old: 1.1 or newer is needed', $line)];
    }
    return ['problem' => sprintf('is neither node, deno nor bun (its --version printed "%s")', substr($line, 0, 80))];
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
    $found = $problems === [] ? 'Neither node, deno nor bun is on PATH' : ucfirst(implode('; ', $problems));
    return sprintf(
        'Cannot run the backup sync: it needs %s, and none was found. %s (searched PATH "%s"). '
        . 'Downloading one is turned off ("Download a runtime when none is found", runtimeProvisioning): tick it to let the plugin fetch a verified runtime into its data folder, '
        . 'or set "JavaScript runtime path" (runtimePath) in the plugin configuration to the full path of a node, deno or bun binary. Then run the plugin again.',
        BSD_NEEDS,
        $found,
        (string) getenv('PATH')
    );
}

/* ---------------------------------------------------------------- provisioning */

/**
 * The runtime pinned for this platform: reused from data/runtime/ if it was installed before,
 * else downloaded, verified and installed now. Null only when provisioning is turned off.
 *
 * @param array<string, mixed> $config
 * @param list<string> $problems
 * @return array{kind: string, path: string, version: string, source: string}|null
 */
function bsd_provisioned_runtime(string $pluginDir, array $config, array &$problems): ?array
{
    $platform = bsd_platform();
    $pins = bsd_read_pins($pluginDir);
    $pin = bsd_pin_for($pins, $platform);
    if ($pin === null) {
        bsd_fail($pluginDir, sprintf(
            '%s. runtime.json pins runtimes for %s only. Install %s in the container and set "JavaScript runtime path" (runtimePath) to it.',
            ucfirst(implode('; ', $problems) ?: 'No runtime on PATH'),
            implode(', ', array_keys($pins['runtimes'])),
            BSD_NEEDS
        ) . sprintf(' (This server is %s-%s.)', $platform['libc'], $platform['arch'] ?? php_uname('m')));
    }
    $runtimeDir = $pluginDir . '/data/runtime';
    $installDir = $runtimeDir . '/' . $pin['name'] . '-' . $pin['version'];
    $binary = $installDir . '/' . basename($pin['binary']);
    bsd_remove_leftovers($runtimeDir);

    if (is_file($binary)) {
        $found = [];
        $runtime = bsd_identify($binary, $found);
        if ($runtime !== null) {
            $runtime['source'] = 'provisioned earlier';
            return $runtime;
        }
        bsd_log($pluginDir, sprintf('WARNING: the runtime installed earlier at %s does not run (%s); installing it again.', $binary, implode('; ', $found)));
        bsd_remove_tree($installDir);
    }

    $enabled = bsd_provisioning_enabled($pluginDir, $config);
    if (!$enabled) {
        return null;
    }
    bsd_log($pluginDir, sprintf(
        'No usable JavaScript runtime: %s. Provisioning %s %s for %s-%s, pinned in runtime.json.',
        $problems === [] ? 'neither node, deno nor bun is on PATH' : implode('; ', $problems),
        $pin['name'], $pin['version'], $platform['libc'], $platform['arch']
    ));
    if ($platform['libc'] === 'musl') {
        $missing = bsd_missing_musl_libraries(bsd_library_dirs());
        if ($missing !== []) {
            bsd_fail($pluginDir, sprintf(
                'Cannot provision %s on this musl (Alpine) system: the C++ runtime library %s is missing, and the runtime needs it. '
                . 'Install it in the UCRM container (`apk add libstdc++ libgcc`), or set "JavaScript runtime path" (runtimePath) to a runtime that runs here. Then run the plugin again.',
                $pin['name'], implode(' and ', $missing)
            ));
        }
    }

    [$base, $baseSource] = bsd_registry_base($config, $pins);
    $url = bsd_tarball_url($base, $pin['name'], $pin['version']);
    if (!is_dir($runtimeDir) && !@mkdir($runtimeDir, 0700, true)) {
        bsd_fail($pluginDir, sprintf('Cannot create %s to install the runtime into: check that the plugin folder is writable by the user running UCRM.', $runtimeDir));
    }
    $tarball = sprintf('%s/.download-%s-%d.tgz', $runtimeDir, getmypid(), mt_rand());
    $staging = sprintf('%s/.staging-%s-%d', $runtimeDir, getmypid(), mt_rand());
    try {
        $started = microtime(true);
        bsd_log($pluginDir, sprintf('Downloading %s (%s).', bsd_safe_url($url), $baseSource));
        $download = bsd_download($url, $tarball, $baseSource);
        bsd_log($pluginDir, sprintf(
            'Downloaded %d bytes (%.1f MB) in %.1f s from %s.',
            $download['bytes'], $download['bytes'] / 1048576, microtime(true) - $started, bsd_safe_url($url)
        ));
        if (!hash_equals(bsd_integrity_digest($pin['integrity']), $download['sha512'])) {
            @unlink($tarball);
            throw new RuntimeException(sprintf(
                'Integrity check failed for %s: its sha512 is %s but runtime.json pins %s. The file was deleted and nothing from it was run. '
                . 'The mirror or a proxy served a different file; check %s, then run the plugin again.',
                bsd_safe_url($url), 'sha512-' . base64_encode($download['sha512']), $pin['integrity'], $baseSource
            ));
        }
        bsd_log($pluginDir, sprintf('Verified %s %s: sha512 matches runtime.json.', $pin['name'], $pin['version']));

        if (!@mkdir($staging, 0700, true)) {
            throw new RuntimeException(sprintf('Cannot create %s: check that the plugin folder is writable.', $staging));
        }
        $staged = $staging . '/' . basename($pin['binary']);
        $size = bsd_extract_file($tarball, $pin['binary'], $staged);
        @unlink($tarball);
        chmod($staged, 0700);
        $checked = [];
        $runtime = bsd_identify($staged, $checked);
        if ($runtime === null) {
            throw new RuntimeException(sprintf(
                'The downloaded %s %s does not run on this server (%s-%s): %s.',
                $pin['name'], $pin['version'], $platform['libc'], $platform['arch'], implode('; ', $checked)
            ) . ($platform['libc'] === 'musl' ? ' On Alpine, `apk add libstdc++ libgcc` in the UCRM container provides the libraries it needs.' : ''));
        }
        if (!is_dir(dirname($installDir)) && !@mkdir(dirname($installDir), 0700, true)) {
            throw new RuntimeException(sprintf('Cannot create %s: check that the plugin folder is writable.', dirname($installDir)));
        }
        if (!@rename($staging, $installDir)) {
            // A run started by hand at the same moment may have installed the same runtime first.
            $found = [];
            if (is_file($binary) && ($other = bsd_identify($binary, $found)) !== null) {
                bsd_remove_tree($staging);
                return ['kind' => $other['kind'], 'path' => $binary, 'version' => $other['version'], 'source' => 'provisioned by another run'];
            }
            throw new RuntimeException(sprintf('Cannot move the unpacked runtime into %s.', $installDir));
        }
        bsd_log($pluginDir, sprintf('Installed %s (%d bytes) at %s; later runs use it without downloading.', $runtime['version'], $size, $binary));
        return ['kind' => $runtime['kind'], 'path' => $binary, 'version' => $runtime['version'], 'source' => 'provisioned now'];
    } catch (RuntimeException $e) {
        @unlink($tarball);
        bsd_remove_tree($staging);
        bsd_fail($pluginDir, $e->getMessage() . ' Nothing was installed; the next run tries again.');
    }
    return null;
}

/** @param array<string, mixed> $config */
function bsd_provisioning_enabled(string $pluginDir, array $config): bool
{
    $value = $config['runtimeProvisioning'] ?? null;
    if ($value === null || $value === '' || $value === true || $value === 1) {
        return true;
    }
    if ($value === false || $value === 0) {
        return false;
    }
    $text = strtolower(trim(is_scalar($value) ? (string) $value : ''));
    if (in_array($text, ['1', 'true', 'yes', 'on'], true)) {
        return true;
    }
    if (in_array($text, ['0', 'false', 'no', 'off'], true)) {
        return false;
    }
    bsd_fail($pluginDir, sprintf(
        'The "Download a runtime when none is found" setting (runtimeProvisioning) in data/config.json is %s: use true or false. Save the plugin configuration in UCRM again.',
        json_encode($value)
    ));
    return false;
}

/** @return array{registry: string, runtimes: array<string, array<string, mixed>>} */
function bsd_read_pins(string $pluginDir): array
{
    $path = $pluginDir . '/runtime.json';
    $pins = @json_decode((string) @file_get_contents($path), true);
    if (!is_array($pins) || !is_string($pins['registry'] ?? null) || !is_array($pins['runtimes'] ?? null)) {
        bsd_fail($pluginDir, sprintf(
            'The plugin is incomplete: %s is missing or malformed, so no runtime can be provisioned. Reinstall the plugin from its zip file, or set "JavaScript runtime path" (runtimePath).',
            $path
        ));
    }
    return $pins;
}

/**
 * The pin for this platform; on x64 CPUs without AVX2 the entry's "baseline" build if it has one.
 *
 * @param array{runtimes: array<string, mixed>} $pins
 * @param array{libc: string, arch: ?string, avx2: bool} $platform
 * @return array{name: string, version: string, integrity: string, binary: string}|null
 */
function bsd_pin_for(array $pins, array $platform): ?array
{
    if ($platform['arch'] === null) {
        return null;
    }
    $pin = $pins['runtimes'][$platform['libc'] . '-' . $platform['arch']] ?? null;
    if (!is_array($pin)) {
        return null;
    }
    if ($platform['arch'] === 'x64' && !$platform['avx2'] && is_array($pin['baseline'] ?? null)) {
        $pin = $pin['baseline'];
    }
    foreach (['name', 'version', 'integrity', 'binary'] as $key) {
        if (!is_string($pin[$key] ?? null) || $pin[$key] === '') {
            return null;
        }
    }
    return ['name' => $pin['name'], 'version' => $pin['version'], 'integrity' => $pin['integrity'], 'binary' => $pin['binary']];
}

/** @return array{libc: string, arch: ?string, avx2: bool} */
function bsd_platform(): array
{
    $lddOutput = null;
    if (glob('/lib/ld-musl-*') === [] && !is_file('/etc/alpine-release')) {
        $lddOutput = bsd_ldd_version();
    }
    return [
        'libc' => bsd_libc_from(glob('/lib/ld-musl-*') ?: [], is_file('/etc/alpine-release'), $lddOutput),
        'arch' => bsd_arch_from(php_uname('m')),
        'avx2' => bsd_cpu_has_avx2((string) @file_get_contents('/proc/cpuinfo')),
    ];
}

/** ldd prints its version to stdout (glibc) or stderr (musl, with a non-zero exit). */
function bsd_ldd_version(): ?string
{
    $process = @proc_open(['ldd', '--version'], [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    if (!is_resource($process)) {
        return null;
    }
    $output = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
    fclose($pipes[1]);
    fclose($pipes[2]);
    proc_close($process);
    return $output;
}

/** @param list<string> $muslLoaders */
function bsd_libc_from(array $muslLoaders, bool $alpineRelease, ?string $lddOutput): string
{
    if ($muslLoaders !== [] || $alpineRelease) {
        return 'musl';
    }
    return $lddOutput !== null && stripos($lddOutput, 'musl') !== false ? 'musl' : 'glibc';
}

function bsd_arch_from(string $machine): ?string
{
    $machine = strtolower(trim($machine));
    if (in_array($machine, ['x86_64', 'amd64', 'x64'], true)) {
        return 'x64';
    }
    if (in_array($machine, ['aarch64', 'arm64', 'armv8l', 'aarch64_be'], true)) {
        return $machine === 'aarch64_be' ? null : 'arm64';
    }
    return null;
}

function bsd_cpu_has_avx2(string $cpuinfo): bool
{
    return preg_match('/^flags\s*:.*\bavx2\b/m', $cpuinfo) === 1;
}

/** @return list<string> */
function bsd_library_dirs(): array
{
    return ['/usr/lib', '/lib', '/usr/local/lib', '/usr/lib64', '/lib64'];
}

/**
 * The C++ runtime libraries the musl builds link against, by the names to install.
 *
 * @param list<string> $dirs
 * @return list<string>
 */
function bsd_missing_musl_libraries(array $dirs): array
{
    $missing = [];
    foreach (['libstdc++.so.6' => 'libstdc++ (libstdc++.so.6)', 'libgcc_s.so.1' => 'libgcc (libgcc_s.so.1)'] as $file => $label) {
        $found = false;
        foreach ($dirs as $dir) {
            if (file_exists($dir . '/' . $file)) {
                $found = true;
                break;
            }
        }
        if (!$found) {
            $missing[] = $label;
        }
    }
    return $missing;
}

/**
 * Where tarballs come from: BACKUP_SYNC_RUNTIME_MIRROR, else runtimeMirrorUrl, else the registry
 * the zip was built with.
 *
 * @param array<string, mixed> $config
 * @param array{registry: string} $pins
 * @return array{0: string, 1: string} base URL and a description of where it was set
 */
function bsd_registry_base(array $config, array $pins): array
{
    $fromEnv = trim((string) getenv('BACKUP_SYNC_RUNTIME_MIRROR'));
    if ($fromEnv !== '') {
        return [$fromEnv, 'the BACKUP_SYNC_RUNTIME_MIRROR environment variable'];
    }
    $fromConfig = is_string($config['runtimeMirrorUrl'] ?? null) ? trim($config['runtimeMirrorUrl']) : '';
    if ($fromConfig !== '') {
        return [$fromConfig, 'the "Runtime mirror URL" setting (runtimeMirrorUrl)'];
    }
    return [$pins['registry'], 'the registry in runtime.json; set "Runtime mirror URL" (runtimeMirrorUrl) to use a mirror'];
}

/** `<base>/<name>/-/<name without scope>-<version>.tgz`, as npm registries lay tarballs out. */
function bsd_tarball_url(string $base, string $name, string $version): string
{
    $slash = strrpos($name, '/');
    $basename = $slash === false ? $name : substr($name, $slash + 1);
    return rtrim($base, '/') . '/' . $name . '/-/' . $basename . '-' . $version . '.tgz';
}

/** The URL without user:password, for the log. */
function bsd_safe_url(string $url): string
{
    return (string) preg_replace('#^([a-z][a-z0-9+.-]*://)[^/@]*@#i', '$1', $url);
}

/** The raw digest an npm `sha512-<base64>` integrity string names. */
function bsd_integrity_digest(string $integrity): string
{
    if (strpos($integrity, 'sha512-') !== 0) {
        throw new RuntimeException(sprintf('runtime.json: integrity "%s" is not a sha512- value; rebuild the plugin zip.', $integrity));
    }
    $digest = base64_decode(substr($integrity, 7), true);
    if ($digest === false || strlen($digest) !== 64) {
        throw new RuntimeException(sprintf('runtime.json: integrity "%s" is not a valid sha512 value; rebuild the plugin zip.', $integrity));
    }
    return $digest;
}

/**
 * Streams `$url` into `$target`, hashing as it goes: memory stays flat whatever the size.
 *
 * @return array{bytes: int, sha512: string}
 */
function bsd_download(string $url, string $target, string $baseSource): array
{
    $fix = sprintf(
        'If this server cannot reach it, set "Runtime mirror URL" (runtimeMirrorUrl) to a mirror of the npm registry it can reach (now: %s), '
        . 'or set "JavaScript runtime path" (runtimePath) to an installed node 16.14+, deno or bun.',
        $baseSource
    );
    if (!preg_match('#^https?://#i', $url)) {
        throw new RuntimeException(sprintf('Cannot download %s: only http:// and https:// mirror URLs are supported. %s', bsd_safe_url($url), $fix));
    }
    if (!filter_var(ini_get('allow_url_fopen'), FILTER_VALIDATE_BOOLEAN)) {
        throw new RuntimeException(sprintf('Cannot download %s: PHP has allow_url_fopen turned off. %s', bsd_safe_url($url), $fix));
    }
    $context = stream_context_create([
        'http' => ['timeout' => BSD_DOWNLOAD_IDLE_TIMEOUT, 'follow_location' => 1, 'max_redirects' => 5, 'ignore_errors' => true, 'user_agent' => 'backup-sync-dropbox-ucrm-plugin'],
    ]);
    $error = null;
    set_error_handler(static function (int $no, string $message) use (&$error): bool {
        $error = $message;
        return true;
    });
    try {
        $in = fopen($url, 'rb', false, $context);
    } finally {
        restore_error_handler();
    }
    if ($in === false) {
        throw new RuntimeException(sprintf(
            'Cannot download the runtime from %s: %s (no network, DNS or proxy problem?). %s',
            bsd_safe_url($url), bsd_safe_url(preg_replace('/^fopen\([^)]*\): /', '', (string) $error) ?? ''), $fix
        ));
    }
    $headers = stream_get_meta_data($in)['wrapper_data'] ?? [];
    $status = 0;
    $length = null;
    foreach (is_array($headers) ? $headers : [] as $header) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', (string) $header, $m) === 1) {
            $status = (int) $m[1];
            $length = null;
        } elseif (preg_match('/^content-length:\s*(\d+)/i', (string) $header, $m) === 1) {
            $length = (int) $m[1];
        }
    }
    if ($status !== 200) {
        fclose($in);
        throw new RuntimeException(sprintf('Cannot download the runtime: %s answered HTTP %d. %s', bsd_safe_url($url), $status, $fix));
    }
    $out = @fopen($target, 'xb');
    if ($out === false) {
        fclose($in);
        throw new RuntimeException(sprintf('Cannot create %s to download into: check that the plugin folder is writable.', $target));
    }
    chmod($target, 0600);
    $hash = hash_init('sha512');
    $bytes = 0;
    $deadline = microtime(true) + BSD_DOWNLOAD_TOTAL_TIMEOUT;
    try {
        while (!feof($in)) {
            $chunk = fread($in, BSD_CHUNK);
            if ($chunk === false) {
                throw new RuntimeException(sprintf('Download of %s broke off after %d bytes. %s', bsd_safe_url($url), $bytes, $fix));
            }
            if ($chunk !== '') {
                bsd_write_all($out, $chunk, $target);
                hash_update($hash, $chunk);
                $bytes += strlen($chunk);
            }
            if (stream_get_meta_data($in)['timed_out']) {
                throw new RuntimeException(sprintf(
                    'Download timed out: %s sent nothing for %d s after %d bytes. %s', bsd_safe_url($url), BSD_DOWNLOAD_IDLE_TIMEOUT, $bytes, $fix
                ));
            }
            if (microtime(true) > $deadline) {
                throw new RuntimeException(sprintf(
                    'Download timed out: %s took longer than %d s (%d bytes so far). %s', bsd_safe_url($url), BSD_DOWNLOAD_TOTAL_TIMEOUT, $bytes, $fix
                ));
            }
        }
        if ($length !== null && $bytes !== $length) {
            throw new RuntimeException(sprintf('Download of %s broke off: %d of %d bytes arrived. %s', bsd_safe_url($url), $bytes, $length, $fix));
        }
        if (!fflush($out)) {
            throw new RuntimeException(bsd_disk_full_message($target));
        }
    } catch (RuntimeException $e) {
        fclose($out);
        @unlink($target);
        throw $e;
    } finally {
        fclose($in);
    }
    fclose($out);
    return ['bytes' => $bytes, 'sha512' => hash_final($hash, true)];
}

/** @param resource $out */
function bsd_write_all($out, string $data, string $target): void
{
    $written = @fwrite($out, $data);
    if ($written !== strlen($data)) {
        throw new RuntimeException(bsd_disk_full_message($target));
    }
}

function bsd_disk_full_message(string $target): string
{
    $free = @disk_free_space(dirname($target));
    return sprintf(
        'Cannot write %s: the disk is full (%s free in %s). Free space there (the runtime needs about 150 MB while it is installed), then run the plugin again.',
        $target, $free === false ? 'unknown space' : sprintf('%.1f MB', $free / 1048576), dirname($target)
    );
}

/**
 * Copies the one entry `$member` of the gzip'd tar `$tarball` into `$target`, streaming: ustar
 * names (with prefix), GNU long names ('L') and pax `path`/`size` records ('x') are understood.
 *
 * @return int the bytes written
 */
function bsd_extract_file(string $tarball, string $member, string $target): int
{
    $in = @fopen('compress.zlib://' . $tarball, 'rb');
    if ($in === false) {
        throw new RuntimeException(sprintf('Cannot open %s as a gzip file.', $tarball));
    }
    $want = bsd_tar_normalize($member);
    $longName = null;
    $pax = [];
    try {
        while (true) {
            $header = bsd_read_exact($in, 512, $tarball);
            if ($header === null || trim($header, "\0") === '') {
                break;
            }
            $entry = bsd_tar_header($header, $tarball);
            $size = isset($pax['size']) ? (int) $pax['size'] : $entry['size'];
            $name = $pax['path'] ?? $longName ?? $entry['name'];
            $type = $entry['type'];
            if ($type === 'L' || $type === 'x' || $type === 'g') {
                $data = bsd_read_data($in, $entry['size'], $tarball);
                if ($type === 'L') {
                    $longName = rtrim($data, "\0");
                } elseif ($type === 'x') {
                    $pax = bsd_pax_records($data);
                }
                continue;
            }
            $longName = null;
            $pax = [];
            if (($type === '0' || $type === "\0" || $type === '7') && bsd_tar_normalize($name) === $want) {
                $out = @fopen($target, 'xb');
                if ($out === false) {
                    throw new RuntimeException(sprintf('Cannot create %s: check that the plugin folder is writable.', $target));
                }
                try {
                    bsd_copy_data($in, $out, $size, $tarball, $target);
                    if (!fflush($out)) {
                        throw new RuntimeException(bsd_disk_full_message($target));
                    }
                } catch (RuntimeException $e) {
                    fclose($out);
                    @unlink($target);
                    throw $e;
                }
                fclose($out);
                return $size;
            }
            bsd_copy_data($in, null, $size, $tarball, $target);
        }
    } finally {
        fclose($in);
    }
    throw new RuntimeException(sprintf('%s has no file %s: runtime.json names the wrong "binary"; rebuild the plugin zip.', basename($tarball), $member));
}

function bsd_tar_normalize(string $name): string
{
    return ltrim((string) preg_replace('#^(\./)+#', '', $name), '/');
}

/** @return array{name: string, size: int, type: string} */
function bsd_tar_header(string $header, string $tarball): array
{
    $checksumField = trim(substr($header, 148, 8), " \0");
    if (preg_match('/^[0-7]+$/', $checksumField) !== 1) {
        throw new RuntimeException(sprintf('%s is not a valid tar archive (no header checksum).', basename($tarball)));
    }
    $checksum = octdec($checksumField);
    $sum = 0;
    for ($i = 0; $i < 512; $i++) {
        $sum += ($i >= 148 && $i < 156) ? 32 : ord($header[$i]);
    }
    if ($sum !== $checksum) {
        throw new RuntimeException(sprintf('%s is not a valid tar archive (bad header checksum).', basename($tarball)));
    }
    $name = rtrim(substr($header, 0, 100), "\0");
    if (substr($header, 257, 5) === 'ustar') {
        $prefix = rtrim(substr($header, 345, 155), "\0");
        if ($prefix !== '') {
            $name = $prefix . '/' . $name;
        }
    }
    $sizeField = substr($header, 124, 12);
    if ((ord($sizeField[0]) & 0x80) !== 0) {
        // GNU base-256 for sizes past 8 GiB.
        $size = ord($sizeField[0]) & 0x7f;
        for ($i = 1; $i < 12; $i++) {
            $size = $size * 256 + ord($sizeField[$i]);
        }
    } else {
        $sizeText = trim($sizeField, " \0");
        if ($sizeText !== '' && preg_match('/^[0-7]+$/', $sizeText) !== 1) {
            throw new RuntimeException(sprintf('%s is not a valid tar archive (bad size field).', basename($tarball)));
        }
        $size = $sizeText === '' ? 0 : (int) octdec($sizeText);
    }
    return ['name' => $name, 'size' => (int) $size, 'type' => $header[156]];
}

/** @return array<string, string> pax extended header records ("<len> key=value\n") */
function bsd_pax_records(string $data): array
{
    $records = [];
    $offset = 0;
    while ($offset < strlen($data) && preg_match('/\G(\d+) /', $data, $m, 0, $offset) === 1) {
        $length = (int) $m[1];
        if ($length <= 0) {
            break;
        }
        $record = substr($data, $offset + strlen($m[0]), $length - strlen($m[0]) - 1);
        $eq = strpos($record, '=');
        if ($eq !== false) {
            $records[substr($record, 0, $eq)] = substr($record, $eq + 1);
        }
        $offset += $length;
    }
    return $records;
}

/**
 * Reads an entry's data (with its padding to 512 bytes) into memory: only for small header data.
 *
 * @param resource $in
 */
function bsd_read_data($in, int $size, string $tarball): string
{
    if ($size > 1048576) {
        throw new RuntimeException(sprintf('%s has an implausibly large tar header record (%d bytes).', basename($tarball), $size));
    }
    $data = $size > 0 ? (string) bsd_read_exact($in, $size, $tarball, true) : '';
    bsd_read_exact($in, (512 - $size % 512) % 512, $tarball, true);
    return $data;
}

/**
 * Streams an entry's data to `$out` (or discards it), then skips its padding.
 *
 * @param resource $in
 * @param resource|null $out
 */
function bsd_copy_data($in, $out, int $size, string $tarball, string $target): void
{
    $left = $size;
    while ($left > 0) {
        $chunk = bsd_read_exact($in, min(BSD_CHUNK, $left), $tarball, true);
        if ($out !== null) {
            bsd_write_all($out, (string) $chunk, $target);
        }
        $left -= strlen((string) $chunk);
    }
    bsd_read_exact($in, (512 - $size % 512) % 512, $tarball, true);
}

/**
 * Exactly `$length` bytes, or null at a clean end of the archive (when allowed).
 *
 * @param resource $in
 */
function bsd_read_exact($in, int $length, string $tarball, bool $required = false): ?string
{
    $data = '';
    while (strlen($data) < $length) {
        $chunk = fread($in, $length - strlen($data));
        if ($chunk === false || $chunk === '') {
            if ($data === '' && !$required) {
                return null;
            }
            throw new RuntimeException(sprintf('%s is truncated or not a gzip\'d tar archive.', basename($tarball)));
        }
        $data .= $chunk;
    }
    return $data;
}

/**
 * Removes download and staging leftovers of a run that was killed half way. Only old ones: UCRM
 * kills a run after an hour, so a younger one may belong to a run still going.
 */
function bsd_remove_leftovers(string $runtimeDir): void
{
    foreach (array_merge(glob($runtimeDir . '/.download-*') ?: [], glob($runtimeDir . '/.staging-*') ?: []) as $path) {
        $modified = @filemtime($path);
        if ($modified !== false && $modified < time() - 2 * 3600) {
            bsd_remove_tree($path);
        }
    }
}

function bsd_remove_tree(string $path): void
{
    if (is_link($path) || is_file($path)) {
        @unlink($path);
        return;
    }
    if (!is_dir($path)) {
        return;
    }
    foreach (scandir($path) ?: [] as $name) {
        if ($name !== '.' && $name !== '..') {
            bsd_remove_tree($path . '/' . $name);
        }
    }
    @rmdir($path);
}

/* ---------------------------------------------------------------- the log */

/**
 * Keeps the last 256 lines, as the original plugin did at the start of each run. Never through a
 * symbolic link: a link at data/plugin.log is left alone (neither read nor replaced), and the new
 * text goes to a temporary file created exclusively ('x': fails on anything there, a link
 * included) under an unpredictable name, then renamed over the log.
 */
function bsd_trim_log(string $pluginDir): void
{
    $path = $pluginDir . '/data/plugin.log';
    if (is_link($path) || !is_file($path)) {
        return;
    }
    $text = @file_get_contents($path);
    if (!is_string($text)) {
        return;
    }
    $lines = explode("\n", $text);
    if (end($lines) === '') {
        array_pop($lines);
    }
    if (count($lines) <= BSD_LOG_MAX_LINES) {
        return;
    }
    $temp = $path . '.' . bin2hex(random_bytes(8)) . '.tmp';
    $handle = @fopen($temp, 'x');
    if ($handle === false) {
        return;
    }
    $written = @fwrite($handle, implode("\n", array_slice($lines, -BSD_LOG_MAX_LINES)) . "\n");
    fclose($handle);
    if ($written === false || !@rename($temp, $path)) {
        @unlink($temp);
    }
}

/** Now as DATE_ATOM in the NMS time zone the sync last saw (data/log-time-zone), else UTC. */
function bsd_log_time(string $pluginDir): string
{
    $zonePath = $pluginDir . '/data/log-time-zone';
    $zone = is_file($zonePath) && !is_link($zonePath) ? trim((string) @file_get_contents($zonePath, false, null, 0, 128)) : '';
    try {
        $timeZone = new DateTimeZone($zone !== '' ? $zone : 'UTC');
    } catch (Exception $e) {
        $timeZone = new DateTimeZone('UTC');
    }
    return (new DateTimeImmutable('now', $timeZone))->format(DATE_ATOM);
}

/** One line in data/plugin.log (the log the UCRM UI shows), in the sync's own format; never through a link. */
function bsd_log(string $pluginDir, string $message): void
{
    $dataDir = $pluginDir . '/data';
    if (!is_dir($dataDir)) {
        @mkdir($dataDir, 0775, true);
    }
    $path = $dataDir . '/plugin.log';
    if (is_link($path)) {
        fwrite(STDERR, sprintf("WARNING: %s is a symbolic link; the launcher does not write through it. Remove the link.\n", $path));
        return;
    }
    $line = sprintf("%s (%s)\n", $message, bsd_log_time($pluginDir));
    @file_put_contents($path, $line, FILE_APPEND | LOCK_EX);
}

/** Tells the admin through data/plugin.log and stderr, then stops the run. */
function bsd_fail(string $pluginDir, string $message): void
{
    bsd_log($pluginDir, 'ERROR: ' . $message);
    fwrite(STDERR, sprintf("ERROR: %s (%s)\n", $message, bsd_log_time($pluginDir)));
    exit(1);
}
