/**
 * Positions in a list, found by key: an open-addressing hash table in one typed array (4 bytes a
 * slot, two slots a key). Indexing a million backups this way allocates one 8 MB array, where a
 * Map costs an entry per key plus the tables it leaves behind as it grows, garbage that stays in
 * the heap until the next full collection (BENCHMARKS.md, issue 14, session 9).
 *
 * Pure: the keys are read from the list through `keyAt`, never copied.
 */
export class KeyIndex {
  /** Position + 1 per slot; 0 is an empty slot. */
  readonly #slots: Uint32Array;
  readonly #mask: number;

  constructor(
    size: number,
    private readonly keyAt: (position: number) => string,
  ) {
    let capacity = 16;
    while (capacity < size * 2) capacity *= 2;
    this.#slots = new Uint32Array(capacity);
    this.#mask = capacity - 1;
  }

  /** The position held under `key`, or undefined. */
  get(key: string): number | undefined {
    const slot = this.#find(key);
    const value = this.#slots[slot]!;
    return value === 0 ? undefined : value - 1;
  }

  /** Holds `position` under its key, replacing the position held before, if any. */
  set(position: number): void {
    this.#slots[this.#find(this.keyAt(position))] = position + 1;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  #find(key: string): number {
    let slot = hash(key) & this.#mask;
    for (;;) {
      const value = this.#slots[slot]!;
      if (value === 0 || this.keyAt(value - 1) === key) return slot;
      slot = (slot + 1) & this.#mask;
    }
  }
}

/** FNV-1a over the UTF-16 code units: cheap, and spreads guids well. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Values in the order they were added, at most one per key, found by key through a KeyIndex: what a
 * Map<string, T> gives, for a count known up front, without a Map entry per key.
 */
export class KeyedList<T> implements Iterable<[string, T]> {
  readonly #values: T[] = [];
  readonly #index: KeyIndex;

  constructor(
    private readonly capacity: number,
    private readonly keyOf: (value: T) => string,
  ) {
    this.#index = new KeyIndex(capacity, (position) => keyOf(this.#values[position]!));
  }

  get size(): number {
    return this.#values.length;
  }

  /** Adds `value` unless its key is held already; false then. At most `capacity` values. */
  add(value: T): boolean {
    if (this.has(this.keyOf(value))) return false;
    // The table is sized for `capacity`; past it a full table would be searched forever.
    if (this.#values.length >= this.capacity) throw new RangeError(`KeyedList: more than the ${this.capacity} values it was made for`);
    this.#values.push(value);
    this.#index.set(this.#values.length - 1);
    return true;
  }

  has(key: string): boolean {
    return this.#index.get(key) !== undefined;
  }

  get(key: string): T | undefined {
    const position = this.#index.get(key);
    return position === undefined ? undefined : this.#values[position];
  }

  *keys(): IterableIterator<string> {
    for (const value of this.#values) yield this.keyOf(value);
  }

  *[Symbol.iterator](): IterableIterator<[string, T]> {
    for (const value of this.#values) yield [this.keyOf(value), value];
  }
}
