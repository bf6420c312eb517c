/**
 * Dependencies point inward: the domain imports only the domain; adapters never import the app
 * layer (but its ports); the app imports adapters only in its composition root; nothing in src imports our tests (what embedders use lives in src/testing), and only the
 * `/testing` entry imports the test kit. Checked from the source text, so a violation fails CI
 * rather than waiting for a review.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const src = join(root, "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports, dynamic `import("...")` included. */
function imports(file: string): string[] {
  return importsIn(readFileSync(file, "utf8"));
}

function importsIn(text: string): string[] {
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|(?:^|\n)\s*import\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

function violations(layer: string, allowed: (specifier: string, target: string | undefined) => boolean): string[] {
  const found: string[] = [];
  for (const file of layer === "" ? files(src) : files(join(src, layer))) {
    for (const specifier of imports(file)) {
      const target = specifier.startsWith(".") ? relative(src, resolve(dirname(file), specifier)) : undefined;
      if (!allowed(specifier, target)) found.push(`${relative(root, file)} imports "${specifier}"`);
    }
  }
  return found;
}

test("src/domain imports nothing but the domain: no I/O, no SDK, no container", () => {
  assert.deepEqual(violations("domain", (_s, target) => target !== undefined && target.startsWith("domain/")), []);
});

test("src/adapters never import the app layer, except the app's ports they implement (src/app/ports.ts)", () => {
  assert.deepEqual(violations("adapters", (_s, target) => target === undefined || !target.startsWith("app/") || target === "app/ports.ts"), []);
});

/**
 * The files of src/app that may import an adapter: the composition root (compose.ts, container.ts
 * and the container's identifiers in service-ids.ts), and the Node 16 bootstrap that installs our
 * fetch as the global one before anything runs. Every other app module sees ports only.
 */
const COMPOSITION_ROOT = new Set(["app/compose.ts", "app/container.ts", "app/service-ids.ts", "app/node16-globals.ts"]);

/** An import of src/app that breaks the rule: an adapter imported outside the composition root. */
function appImportsAdapter(file: string, target: string | undefined): boolean {
  return target !== undefined && target.startsWith("adapters/") && !COMPOSITION_ROOT.has(file);
}

test("src/app imports adapters only in the composition root (compose.ts, container.ts, service-ids.ts, node16-globals.ts)", () => {
  const found = files(join(src, "app")).flatMap((file) =>
    imports(file)
      .filter((specifier) => specifier.startsWith(".") && appImportsAdapter(relative(src, file), relative(src, resolve(dirname(file), specifier))))
      .map((specifier) => `${relative(root, file)} imports "${specifier}"`),
  );
  assert.deepEqual(found, []);
});

test("the app -> adapters checker would catch a use case importing an adapter, and lets the composition root do it", () => {
  assert.equal(appImportsAdapter("app/sync-backups.ts", "adapters/unms/resume-range.ts"), true);
  assert.equal(appImportsAdapter("app/token-session.ts", "adapters/dropbox-auth/pkce.ts"), true);
  assert.equal(appImportsAdapter("app/compose.ts", "adapters/lock/run-lock.ts"), false);
  assert.equal(appImportsAdapter("app/sync-backups.ts", "domain/skip-bytes.ts"), false);
});

/**
 * Where ports live (docs/architecture.md): src/domain/ports.ts holds what the sync use case consumes;
 * src/app/ports.ts what the app layer's own machinery consumes (settings, authorization, the run
 * lock, the state kept between runs).
 */
const PORT_HOMES: Record<string, string[]> = {
  "domain/ports.ts": ["BackupSource", "BackupStore", "DownloadLedger", "AccessTokenProvider", "Reporter", "Clock", "Redactor"],
  "app/ports.ts": [
    "ConfigStore", "OAuthClient", "Pkce", "RunLock", "RunLockAcquirer", "UploadSessionStore",
    "WritableFolderCheck", "HealthcheckNotifier", "HealthcheckNotifierFactory", "ContentHasher", "ContentHasherFactory", "RestoreDecryption", "RestoreDecryptionFactory",
    "RestoreFileOutput",
  ],
};

test("each port is declared in its home ports file and nowhere else in src", () => {
  const declared = new Map<string, string[]>();
  for (const file of files(src)) {
    for (const match of readFileSync(file, "utf8").matchAll(/^export (?:interface|type) (\w+)\b/gm)) {
      declared.set(match[1]!, [...(declared.get(match[1]!) ?? []), relative(src, file)]);
    }
  }
  const misplaced = Object.entries(PORT_HOMES).flatMap(([home, ports]) =>
    ports.filter((port) => JSON.stringify(declared.get(port)) !== JSON.stringify([home])).map((port) => `${port}: declared in ${declared.get(port)?.join(", ") ?? "no file"}, expected ${home}`),
  );
  assert.deepEqual(misplaced, []);
});

test("ports live with the layer that calls them: no adapter defines a port (no ports file under src/adapters)", () => {
  assert.deepEqual(files(join(src, "adapters")).map((file) => relative(src, file)).filter((file) => /(^|\/)(ports|config-store|oauth-client)\.ts$/.test(file)), []);
});

test("nothing in src imports from outside src (no src -> test imports)", () => {
  assert.deepEqual(violations("", (_s, target) => target === undefined || !target.startsWith("..")), []);
});

test("only the /testing entry (src/testing.ts) and the kit itself import the test kit (src/testing/)", () => {
  const kit = (file: string) => file === "testing.ts" || file.startsWith("testing/");
  const found = violations("", (_s, target) => target === undefined || !target.startsWith("testing/"));
  assert.deepEqual(found.filter((line) => !kit(line.replace(/^src\//, "").split(" ")[0]!)), []);
});

test("the checker would catch a src -> test import and a library -> test-kit import", () => {
  const outside = relative(src, resolve(join(src, "app"), "../../test/fakes/tls-certificates.ts"));
  assert.ok(outside.startsWith(".."), outside);
  const kitImport = relative(src, resolve(src, "./testing/fakes/dropbox.ts"));
  assert.ok(kitImport.startsWith("testing/"), kitImport);
});

test("the checker sees dynamic imports too: a lazy import of an adapter or of test/ would not slip through", () => {
  assert.deepEqual(importsIn('const { installNode16Globals } = await import("./node16-globals.ts");'), ["./node16-globals.ts"]);
  assert.deepEqual(importsIn('const fake = await import("../../test/fakes/tls-certificates.ts");'), ["../../test/fakes/tls-certificates.ts"]);
  assert.ok(files(join(src, "app")).flatMap(imports).includes("./node16-globals.ts"), "missing-globals.ts's lazy import is seen");
});

test("the checker itself sees imports (it would catch a violation)", () => {
  const sample = files(join(src, "app")).flatMap(imports);
  assert.ok(sample.some((s) => s.startsWith("../domain/")), "expected app modules to import the domain");
  assert.ok(sample.includes("inversify"), "expected the container to import inversify");
  assert.ok(sample.includes("./cli-main.ts"), "expected the checker to see cli.ts's lazy import of ./cli-main.ts");
});
