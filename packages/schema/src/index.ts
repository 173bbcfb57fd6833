/**
 * Tandem's content schema: the Tiptap extensions that define what a rich-text document may hold.
 * The editor (apps/editor) builds its editor from them and the server converts documents with
 * them (./convert.ts), so both agree on every node and mark. This entry point has no conversion
 * code (no Markdown parser, no DOM shim), so the editor's bundle stays small.
 */
import { type AnyExtension, getSchema } from "@tiptap/core";
import { TaskItem, TaskList } from "@tiptap/extension-list";
import StarterKit from "@tiptap/starter-kit";

export { CONTENT_FRAGMENT } from "./names.ts";

/**
 * The extensions that make up the content schema, configured as the editor uses them. Each call
 * returns fresh instances (Tiptap extensions hold per-editor state once bound).
 */
export function contentExtensions(): AnyExtension[] {
  return [
    StarterKit.configure({
      // Collaboration brings its own undo manager (only this client's changes): StarterKit's
      // history would undo by document state, others' edits included.
      undoRedo: false,
      // It appends an empty paragraph whenever the document ends with something else, as a
      // local edit: on every client at once, for every remote change that ends the document
      // with a heading or a list. Collaboratively that means stray paragraphs, "typing" flags
      // and unsaved changes nobody made.
      trailingNode: false,
      heading: { levels: [1, 2, 3] },
      link: { openOnClick: false, autolink: true, defaultProtocol: "https" },
    }),
    TaskList,
    TaskItem.configure({ nested: true }),
  ];
}

/** The ProseMirror schema of the content extensions. */
export const contentSchema = getSchema(contentExtensions());
