import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyedList, KeyIndex } from "../../../src/domain/key-index.ts";

test("KeyIndex finds every key's position among 5,000 keys, the last set winning, and nothing for an absent key", () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `3f1c2a9e-0000-4000-8000-${String(i % 4000).padStart(12, "0")}`);
  const index = new KeyIndex(keys.length, (i) => keys[i]!);
  keys.forEach((_, i) => {
    if (index.get(keys[i]!) === undefined) index.set(i);
  });
  // Keys 4000.. repeat 0..999: the first position stays unless set again.
  for (let i = 0; i < 4000; i++) assert.equal(index.get(keys[i]!), i);
  index.set(4500);
  assert.equal(index.get(keys[500]!), 4500);
  assert.equal(index.get("3f1c2a9e-0000-4000-8000-999999999999"), undefined);
  assert.equal(index.get(""), undefined);
});

test("KeyIndex over an empty list finds nothing; colliding keys (a table of 16 slots for 8) are all found", () => {
  assert.equal(new KeyIndex(0, () => "").get("a"), undefined);
  const keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
  const index = new KeyIndex(keys.length, (i) => keys[i]!);
  keys.forEach((_, i) => index.set(i));
  keys.forEach((key, i) => assert.equal(index.get(key), i));
});

test("KeyedList keeps the first value per key, in the order added, and finds each by key", () => {
  const list = new KeyedList<{ id: string; n: number }>(4, (v) => v.id.toLowerCase());
  assert.equal(list.add({ id: "A", n: 1 }), true);
  assert.equal(list.add({ id: "b", n: 2 }), true);
  assert.equal(list.add({ id: "a", n: 3 }), false, "the same key, another case");
  assert.equal(list.size, 2);
  assert.deepEqual([...list.keys()], ["a", "b"]);
  assert.deepEqual([...list].map(([key, v]) => `${key}=${v.n}`), ["a=1", "b=2"]);
  assert.equal(list.get("a")?.n, 1);
  assert.equal(list.has("c"), false);
  assert.equal(list.get("c"), undefined);
});

test("KeyedList refuses a value past the capacity it was made for, naming it", () => {
  const list = new KeyedList<string>(1, (v) => v);
  list.add("a");
  assert.equal(list.add("a"), false);
  assert.throws(() => list.add("b"), /more than the 1 values it was made for/);
});
