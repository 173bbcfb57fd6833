import { contentExtensions } from "@tandem/schema";
import { Editor, type JSONContent } from "@tiptap/core";
import { BlockChange, ChangeMark } from "./change-mark.ts";

/**
 * A read-only rendering of a document (a version, or a comparison): a Tiptap editor that cannot
 * be edited, with the same schema and styles as the real one plus the change marks. It is bound
 * to nothing, so nothing it shows can reach the shared document.
 */
export function createViewer(
  element: HTMLElement,
  content: JSONContent,
  attributes: { label: string; testId: string },
): Editor {
  return new Editor({
    element,
    editable: false,
    extensions: [...contentExtensions(), ChangeMark, BlockChange],
    content,
    editorProps: {
      attributes: {
        class: "prose prose--viewer",
        "aria-label": attributes.label,
        "aria-readonly": "true",
        role: "document",
        "data-testid": attributes.testId,
      },
    },
  });
}
