/**
 * Dependencies point inward: the domain imports only the domain; adapters never import the app
 * layer; nothing in src imports our tests (what embedders use lives in src/testing), and only the
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

/** Every module specifier a file imports or re-exports. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|(?:^|\n)\s*import\s+"([^"]+)"/g)].map((m) => m[1] ?? m[2]!);
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

test("the checker itself sees imports (it would catch a violation)", () => {
  const sample = files(join(src, "app")).flatMap(imports);
  assert.ok(sample.some((s) => s.startsWith("../domain/")), "expected app modules to import the domain");
  assert.ok(sample.includes("inversify"), "expected the container to import inversify");
});
