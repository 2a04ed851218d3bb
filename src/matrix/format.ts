/**
 * What decides whether a text needs Markdown rendering at all, kept apart
 * from the renderer (markdown.ts) so that a plain text never loads it.
 */

/** The link a client shows as a pill for the user. */
export const pillHref = (userId: string) => `https://matrix.to/#/${userId}`;

/**
 * `@name` in text, not inside a word or an address, and not the start of a
 * full user id: the name as agent names are spelt.
 */
export const MENTION = /(^|[^\w@.])@([a-z0-9._=-]*[a-z0-9_=-])(?![\w=-])(?![\w.=-]*:[\w[])/g;

export interface Formatted {
  /** Absent for a plain text: its body says it all. */
  html?: string;
  /** Those its `@name`s mention. */
  mentioned: string[];
}

/** Whether `body` may need formatting: markup characters, a list, or a `@name`. */
export function mayNeedFormatting(body: string): boolean {
  return /[*_`#>\[\]|~\\<&@]|^\s*(\d+[.)]|[-+])\s|^\s*(-{3,}|={3,})\s*$/m.test(body);
}

/** Whether `body` may mention someone by name. */
export const mayMention = (body: string) => new RegExp(MENTION.source).test(body);
