/**
 * Markdown to the HTML a Matrix client shows (`formatted_body` in
 * `org.matrix.custom.html`), with mentions as pills. Loaded only for a text
 * that may have markup or a mention (see format.ts): a plain text needs
 * neither library.
 */
import markdownIt, { type MarkdownIt, type StateCore, type Token } from "markdown-it";
import { type Formatted, MENTION, pillHref } from "./format.ts";
// @ts-types="@types/sanitize-html"
import sanitizeHtml from "sanitize-html";

/** The tags the client-server spec lists for `org.matrix.custom.html`. */
const ALLOWED_TAGS = [
  "font",
  "del",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote",
  "p",
  "a",
  "ul",
  "ol",
  "sup",
  "sub",
  "li",
  "b",
  "i",
  "u",
  "strong",
  "em",
  "s",
  "code",
  "hr",
  "br",
  "div",
  "table",
  "thead",
  "tbody",
  "tr",
  "th",
  "td",
  "caption",
  "pre",
  "span",
  "img",
  "details",
  "summary",
]; // deno-fmt-ignore

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: ALLOWED_TAGS,
  allowedAttributes: { a: ["href"], ol: ["start"], code: ["class"], img: ["src", "alt"] },
  allowedSchemes: ["https", "http", "ftp", "mailto", "magnet"],
  // Clients load only images from the homeserver's media repository.
  allowedSchemesByTag: { img: ["mxc"] },
  allowedClasses: { code: ["language-*"] },
  // An image from elsewhere stays a link to it.
  transformTags: {
    img: (tagName, attribs) =>
      attribs.src?.startsWith("mxc://")
        ? { tagName, attribs }
        : { tagName: "a", attribs: { href: attribs.src ?? "" }, text: attribs.alt || attribs.src },
  },
  // What is dropped is shown as text, never silently lost.
  disallowedTagsMode: "escape",
};

/** Turns `@name` of a known user, in text outside code and links, into a link to their pill. */
function pills(md: MarkdownIt, users: ReadonlyMap<string, string>, used: Set<string>) {
  md.core.ruler.push("pills", (state: StateCore) => {
    for (const block of state.tokens) {
      if (block.type !== "inline" || !block.children) continue;
      const children: Token[] = [];
      let inLink = 0;
      for (const token of block.children) {
        if (token.type === "link_open") inLink++;
        if (token.type === "link_close") inLink--;
        if (token.type !== "text" || inLink > 0) {
          children.push(token);
          continue;
        }
        let at = 0;
        for (const match of token.content.matchAll(MENTION)) {
          const userId = users.get(match[2]);
          if (!userId) continue;
          const start = match.index + match[1].length;
          const text = (content: string) =>
            Object.assign(new state.Token("text", "", 0), { content });
          if (start > at) children.push(text(token.content.slice(at, start)));
          const open = new state.Token("link_open", "a", 1);
          open.attrSet("href", pillHref(userId));
          children.push(open, text(match[2]), new state.Token("link_close", "a", -1));
          used.add(userId);
          at = start + 1 + match[2].length;
        }
        if (at === 0) children.push(token);
        else if (at < token.content.length) {
          children.push(Object.assign(new state.Token("text", "", 0), {
            content: token.content.slice(at),
          }));
        }
      }
      block.children = children;
    }
  });
}

/** Only paragraphs of text and line breaks: nothing a client would show differently. */
function isPlain(tokens: Token[]): boolean {
  return tokens.every((token) =>
    token.type === "paragraph_open" || token.type === "paragraph_close" ||
    (token.type === "inline" &&
      (token.children ?? []).every((child) => child.type === "text" || child.type === "softbreak"))
  );
}

/**
 * `body` read as Markdown, as the sanitized HTML of `formatted_body`;
 * `users` maps the names a `@name` may mention to their user ids. Raw HTML
 * in the text stays text: an agent cannot smuggle markup into a room.
 */
export function formatMarkdown(body: string, users: ReadonlyMap<string, string>): Formatted {
  const mentioned = new Set<string>();
  const md = markdownIt("commonmark", { html: false, breaks: true }).enable("strikethrough")
    .enable("table");
  pills(md, users, mentioned);
  const tokens = md.parse(body, {});
  // A backslash escape reads the same in HTML but not in the body: it counts as markup.
  if (mentioned.size === 0 && !body.includes("\\") && isPlain(tokens)) return { mentioned: [] };
  const html = sanitizeHtml(md.renderer.render(tokens, md.options, {}), SANITIZE).trim();
  return { html, mentioned: [...mentioned] };
}
