/** HTML from a Matrix client as the plain text an agent reads; loaded only when a message needs it. */
import { convert } from "html-to-text";

export function htmlText(html: string): string {
  return convert(html, {
    wordwrap: false,
    selectors: [
      // A pill reads as the name it shows; other links keep their address.
      { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'a[href^="https://matrix.to/#/"]', format: "inline" },
      { selector: "img", format: "skip" },
      { selector: "h1", options: { uppercase: false } },
      { selector: "h2", options: { uppercase: false } },
      { selector: "h3", options: { uppercase: false } },
      { selector: "table", format: "dataTable", options: { uppercaseHeaderCells: false } },
    ],
  });
}
