// Finds where and why a text is not JSON. Node 20's JSON.parse messages carry a
// "position N" only for some errors (none at the end of input, and some echo the
// text instead, which may hold a secret), so this scanner re-reads a text that
// JSON.parse refused and names the place and what the grammar expected there.
// It only runs after a failure; JSON.parse stays the parser.

/** Where a text stops being JSON, and what the grammar wanted there. */
interface JsonSyntaxError {
  /** Offset in the string (UTF-16 code units) of the first character that cannot be JSON. */
  offset: number;
  /** 1-based line of that place. */
  line: number;
  /** 1-based column of that place, in characters (code points) as editors count them. */
  column: number;
  /** What would have been valid there, in words; never the text itself. */
  expected: string;
  /** True when the text ended where more was needed. */
  atEnd: boolean;
}

const A_VALUE = "a value (a string in double quotes, a number, an object, an array, true, false or null)";
const NO_TRAILING_COMMA = " (JSON allows no comma before a closing bracket)";

type Found = { offset: number; expected: string };
type Frame = "object" | "array";

/**
 * Scans a text by the JSON grammar (RFC 8259, as JSON.parse reads it) and locates
 * its first syntax error.
 *
 * @param text - the text JSON.parse refused
 * @returns the place and what was expected, or null when the text is valid JSON
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  const found = scan(text);
  if (!found) return null;
  const { line, column } = lineAndColumn(text, found.offset);
  return { ...found, line, column, atEnd: found.offset >= text.length };
}

/**
 * 1-based line and column (in code points) of an offset in a text.
 *
 * @param text - the whole text
 * @param offset - a UTF-16 offset into it (clamped to its length)
 * @returns line and column
 */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.min(offset, text.length));
  let line = 1;
  for (let k = before.indexOf("\n"); k !== -1; k = before.indexOf("\n", k + 1)) line++;
  const lineStart = before.lastIndexOf("\n") + 1;
  return { line, column: Array.from(before.slice(lineStart)).length + 1 };
}

/** The grammar as a loop over an explicit stack, so deep nesting cannot overflow. */
function scan(s: string): Found | null {
  const stack: Frame[] = [];
  let i = 0;
  let mode: "value" | "key" | "after" = "value";
  let justOpened = false; // right after '{' or '[': the closing bracket may follow
  for (;;) {
    i = skipWhitespace(s, i);
    const ch = s[i];
    if (mode === "key") {
      if (ch === "}" && justOpened) {
        stack.pop();
        i++;
        mode = "after";
      } else if (ch === '"') {
        const end = scanString(s, i);
        if (typeof end !== "number") return end;
        i = skipWhitespace(s, end);
        if (s[i] !== ":") return { offset: i, expected: "':' after the property name" };
        i++;
        mode = "value";
      } else {
        const what = justOpened ? "a property name in double quotes or '}'" : "a property name in double quotes";
        return { offset: i, expected: what + (ch === "}" ? NO_TRAILING_COMMA : "") };
      }
      justOpened = false;
      continue;
    }
    if (mode === "value") {
      if (ch === "]" && justOpened) {
        stack.pop();
        i++;
        mode = "after";
        justOpened = false;
        continue;
      }
      justOpened = false;
      if (ch === "{" || ch === "[") {
        stack.push(ch === "{" ? "object" : "array");
        i++;
        mode = ch === "{" ? "key" : "value";
        justOpened = true;
        continue;
      }
      const end = scanScalar(s, i);
      if (typeof end !== "number") return end;
      i = end;
      mode = "after";
      continue;
    }
    // mode "after": a value just ended
    const top = stack.at(-1);
    if (top === undefined) {
      return i >= s.length ? null : { offset: i, expected: "the end of the file after the JSON value (a file holds one value)" };
    }
    const close = top === "object" ? "}" : "]";
    if (ch === ",") {
      i++;
      mode = top === "object" ? "key" : "value";
      if (top === "array" && s[skipWhitespace(s, i)] === "]") return { offset: skipWhitespace(s, i), expected: A_VALUE + NO_TRAILING_COMMA };
    } else if (ch === close) {
      stack.pop();
      i++;
    } else {
      return { offset: i, expected: top === "object" ? "',' or '}' after the property value" : "',' or ']' after the array element" };
    }
  }
}

function skipWhitespace(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

/** A string, number or literal starting at i: the offset after it, or the error. */
function scanScalar(s: string, i: number): number | Found {
  const ch = s[i];
  if (ch === '"') return scanString(s, i);
  if (ch === "-" || isDigit(ch)) return scanNumber(s, i);
  const word = /^[A-Za-z]+/.exec(s.slice(i, i + 16))?.[0];
  for (const literal of ["true", "false", "null"]) {
    if (word === literal) return i + literal.length;
  }
  if (ch === "\uFEFF") return { offset: i, expected: A_VALUE + ", not a byte-order mark (save the file as UTF-8 without BOM)" };
  return { offset: i, expected: A_VALUE };
}

function scanString(s: string, i: number): number | Found {
  for (let j = i + 1; ; j++) {
    if (j >= s.length) return { offset: j, expected: "'\"' to close the string" };
    const c = s.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c === 0x0a || c === 0x0d) return { offset: j, expected: "'\"' to close the string before the line ends (write a line break inside a string as \\n)" };
    if (c < 0x20) return { offset: j, expected: "an escape such as \\t instead of a control character inside the string" };
    if (c === 0x5c) {
      const e = s[j + 1];
      if (e === "u") {
        for (let k = j + 2; k < j + 6; k++) {
          if (!/[0-9A-Fa-f]/.test(s[k] ?? "")) return { offset: k, expected: "four hex digits after \\u" };
        }
        j += 5;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
        j += 1;
      } else {
        return { offset: j + 1, expected: 'an escape after \\: one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX' };
      }
    }
  }
}

function scanNumber(s: string, i: number): number | Found {
  let j = i;
  if (s[j] === "-") j++;
  if (s[j] === "0") j++;
  else if (isDigit(s[j])) while (isDigit(s[j])) j++;
  else return { offset: j, expected: "a digit after '-'" };
  if (s[j] === ".") {
    j++;
    if (!isDigit(s[j])) return { offset: j, expected: "a digit after the decimal point" };
    while (isDigit(s[j])) j++;
  }
  if (s[j] === "e" || s[j] === "E") {
    j++;
    if (s[j] === "+" || s[j] === "-") j++;
    if (!isDigit(s[j])) return { offset: j, expected: "a digit in the exponent" };
    while (isDigit(s[j])) j++;
  }
  return j;
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}
