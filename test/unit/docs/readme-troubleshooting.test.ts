/**
 * The README's Troubleshooting headings are the messages the tool prints: every fixed part of each
 * heading (the text between `…`) must still appear in the source, so a reworded message shows up
 * here as the heading that drifted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../..", import.meta.url));

function sourceText(dir: string): string {
  return readdirSync(dir, { withFileTypes: true })
    .map((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === "testing" ? "" : sourceText(path);
      return entry.name.endsWith(".ts") && !entry.name.endsWith(".gen.ts") ? readFileSync(path, "utf8") : "";
    })
    .join("\n");
}

/** The backquoted text of each `### ` heading in the Troubleshooting section. */
export function troubleshootingHeadings(readme: string): string[] {
  const section = readme.split(/^## Troubleshooting$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, "README.md has a ## Troubleshooting section");
  return [...section.matchAll(/^### `(.+)`\s*$/gm)].map((match) => match[1]!);
}

const readme = readFileSync(join(root, "README.md"), "utf8");
const source = sourceText(join(root, "src"));
const headings = troubleshootingHeadings(readme);

test("the Troubleshooting section has a heading for each case issue 12 asks about", () => {
  assert.ok(headings.length >= 12, `${headings.length} headings`);
  for (const expected of [/reach UNMS/, /not JSON/, /UNMS has no/, /app credentials/, /certificate was refused/, /permission it needs/, /Could not … the folder/]) {
    assert.ok(headings.some((heading) => expected.test(heading)), `no heading matches ${expected}`);
  }
});

for (const heading of headings) {
  test(`README heading "${heading}" is printed by the code`, () => {
    const parts = heading.split("…").map((part) => part.trim()).filter((part) => part !== "");
    assert.ok(parts.some((part) => part.length >= 9), `"${heading}": too little fixed text to check`);
    const missing = parts.filter((part) => !source.includes(part));
    assert.deepEqual(missing, [], `"${heading}": not in src/ (reworded?)`);
  });
}
