/**
 * Cuts the text of one top-level JSON array, chunk by chunk, into the texts of its elements, so a
 * list of a million backups is parsed one element at a time (JSON.parse per element) instead of as
 * one string and one tree. It holds at most one element's text (plus a chunk). It checks only the
 * array's own syntax (the brackets, commas, what may follow the end); each element's syntax is left
 * to JSON.parse. Anything else throws a JsonArraySyntaxError saying what and where.
 */
export class JsonArraySyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JsonArraySyntaxError";
  }
}

const Ch = { Quote: 0x22, Backslash: 0x5c, OpenBrace: 0x7b, CloseBrace: 0x7d, OpenBracket: 0x5b, CloseBracket: 0x5d, Comma: 0x2c } as const;

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

export class JsonArraySplitter {
  #state: "before" | "inside" | "after" = "before";
  /** Nesting inside the current element. */
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** The current element's text from earlier chunks. */
  #carry = "";
  #elements = 0;
  #afterComma = false;
  /** Characters seen before this chunk, for positions in errors. */
  #seen = 0;

  /** @param onElement gets each element's text (surrounding whitespace included), in order. */
  constructor(private readonly onElement: (text: string) => void) {}

  /** True once the first non-blank character was something other than `[`: not an array at all. */
  notAnArray = false;

  /** True once the list's "[" was seen. */
  get started(): boolean {
    return this.#state !== "before";
  }

  /** Feeds the next piece of text. */
  push(text: string): void {
    let start = 0;
    for (let at = 0; at < text.length; at++) {
      const code = text.charCodeAt(at);
      if (this.#state === "before") {
        if (isSpace(code) || code === 0xfeff) continue;
        if (code !== Ch.OpenBracket) {
          this.notAnArray = true;
          throw new JsonArraySyntaxError(`it does not start with "[" (character ${this.#seen + at + 1})`);
        }
        this.#state = "inside";
        start = at + 1;
        continue;
      }
      if (this.#state === "after") {
        if (!isSpace(code)) throw new JsonArraySyntaxError(`something follows the end of the list (character ${this.#seen + at + 1})`);
        continue;
      }
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (code === Ch.Backslash) this.#escaped = true;
        else if (code === Ch.Quote) this.#inString = false;
        continue;
      }
      if (code === Ch.Quote) this.#inString = true;
      else if (code === Ch.OpenBrace || code === Ch.OpenBracket) this.#depth += 1;
      else if ((code === Ch.CloseBrace || code === Ch.CloseBracket) && this.#depth > 0) this.#depth -= 1;
      else if (code === Ch.CloseBrace) throw new JsonArraySyntaxError(`an unmatched "}" (character ${this.#seen + at + 1})`);
      else if (this.#depth === 0 && (code === Ch.Comma || code === Ch.CloseBracket)) {
        this.#endElement(this.#carry + text.slice(start, at), code === Ch.CloseBracket, this.#seen + at + 1);
        this.#carry = "";
        start = at + 1;
        if (code === Ch.CloseBracket) this.#state = "after";
      }
    }
    if (this.#state === "inside") this.#carry += text.slice(start);
    this.#seen += text.length;
  }

  /** The text ended: throws unless the array was closed. Returns the number of elements. */
  end(): number {
    if (this.#state === "before") throw new JsonArraySyntaxError("it is blank");
    if (this.#state === "inside") throw new JsonArraySyntaxError(`it ends after ${this.#seen} characters, inside the list (no closing "]")`);
    return this.#elements;
  }

  #endElement(text: string, closing: boolean, position: number): void {
    if (text.trim() === "") {
      // "[]" is an empty list; "[,", "[1,,2" and "[1,]" are not JSON.
      if (closing && this.#elements === 0 && !this.#afterComma) return;
      throw new JsonArraySyntaxError(`a value is missing before character ${position}`);
    }
    this.#elements += 1;
    this.#afterComma = !closing;
    this.onElement(text);
  }
}
