/**
 * The names a document's content is known by: where it lives in a Y.Doc and the text formats it
 * converts to. No Tiptap and no DOM shim here, so a server can know them without paying for the
 * schema (./index.ts) or the conversions (./convert.ts, about 2 s of CPU to load).
 */

/**
 * The Y.XmlFragment a rich-text document lives in: Tiptap's Collaboration extension's default
 * field, which the editor uses.
 */
export const CONTENT_FRAGMENT = "default";

/** The text formats a document converts to and from. */
export const CONTENT_FORMATS = ["json", "html", "markdown", "text"] as const;
export type ContentFormat = (typeof CONTENT_FORMATS)[number];
