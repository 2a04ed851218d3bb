/**
 * Text from other people's events, shown to people and to models: every
 * character that could move a terminal's cursor, end a line, reorder the text
 * or hide in it is shown as an escape instead, so what is read is what was
 * sent. That is the controls (C0, DEL, C1), the line and paragraph
 * separators, and the format characters: bidi marks, embeddings, overrides
 * and isolates, zero-width characters, the byte order mark, tag characters.
 * `--json` and the MCP tools keep the exact text.
 */

/** Controls, format characters, and line and paragraph separators. */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const EVERY_HIDDEN = new RegExp(HIDDEN.source, "gu");
/** Line breaks and tabs: hidden on one line, ordinary in a text laid out on several. */
const LAYOUT = "\n\r\t";
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, "0");

/** One character as it is shown: itself, or its escape (`\n`, `\x1b`, `\u202e`, `\u{e0041}`). */
export function visibleChar(char: string): string {
  if (!HIDDEN.test(char)) return char;
  const named = NAMED[char];
  if (named) return named;
  const code = char.codePointAt(0)!;
  if (code <= 0xff) return `\\x${hex(code, 2)}`;
  return code <= 0xffff ? `\\u${hex(code, 4)}` : `\\u{${code.toString(16)}}`;
}

/** `text` with every hidden character escaped, except those of `keep` (a tab, say). */
export function visible(text: string, keep = ""): string {
  return text.replace(EVERY_HIDDEN, (char) => keep.includes(char) ? char : visibleChar(char));
}

/** Whether `text` holds a character plain output escapes, line breaks and tabs aside. */
export function holdsHidden(text: string): boolean {
  return visible(text, LAYOUT) !== text;
}
