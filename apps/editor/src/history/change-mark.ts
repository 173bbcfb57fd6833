import { Extension, Mark } from "@tiptap/core";
import { CHANGE_MARK, DIFF_ATTRIBUTE } from "./diff.ts";

/**
 * How a comparison shows changes (only in the read-only compare view; the shared schema does
 * not know these, so they can never reach the document):
 * - inserted text: `<ins data-change="added" data-author="…">` tinted with its author's colour
 *   (`--change`), with "Added by …" as its tooltip;
 * - removed text: `<del data-change="removed">`;
 * - whole blocks added, removed or changed (a heading's level, a task's tick): `data-diff`.
 */
export const ChangeMark = Mark.create({
  name: CHANGE_MARK,
  inclusive: false,
  // Before every formatting mark in the schema (links have 1000): the outermost mark, so one
  // change is one element around its bold or linked parts rather than split by them.
  priority: 1001,
  addAttributes() {
    return {
      kind: { default: "added", rendered: false },
      author: { default: null, rendered: false },
      name: { default: null, rendered: false },
      color: { default: null, rendered: false },
    };
  },
  renderHTML({ mark }) {
    const { kind, name, color } = mark.attrs as {
      kind: "added" | "removed";
      name: string | null;
      color: string | null;
    };
    const attributes: Record<string, string> = {
      class: `change change--${kind}`,
      "data-change": kind,
    };
    if (kind === "added") {
      attributes.title = name ? `Added by ${name}` : "Added";
      if (name) attributes["data-author"] = name;
      if (color) attributes.style = `--change: ${color}`;
    } else {
      attributes.title = "Removed";
    }
    return [kind === "added" ? "ins" : "del", attributes, 0];
  },
});

export const BlockChange = Extension.create({
  name: "historyBlockChange",
  addGlobalAttributes() {
    return [
      {
        types: "nodes",
        attributes: {
          [DIFF_ATTRIBUTE]: {
            default: null,
            renderHTML: (attributes: Record<string, unknown>) => {
              const value = attributes[DIFF_ATTRIBUTE];
              return typeof value === "string" ? { "data-diff": value } : {};
            },
            parseHTML: () => null,
          },
        },
      },
    ];
  },
});
