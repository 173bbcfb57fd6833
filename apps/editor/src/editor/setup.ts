import type { TandemDocument, User } from "@tandem/provider";
import { CONTENT_FRAGMENT, contentExtensions } from "@tandem/schema";
import { Editor, Extension } from "@tiptap/core";
import Collaboration from "@tiptap/extension-collaboration";
import CollaborationCaret from "@tiptap/extension-collaboration-caret";
import { Placeholder } from "@tiptap/extensions";

export interface EditorOptions {
  element: HTMLElement;
  document: TandemDocument;
  user: User;
  /** Ctrl/Cmd+K: edit the link at the cursor. */
  onEditLink(): void;
}

/**
 * The rich-text editor, bound to the shared document. Yjs is the source of truth: the
 * Collaboration extension mirrors the Y.XmlFragment into ProseMirror and back, and brings an
 * undo manager that tracks only this client's changes, so Ctrl+Z never undoes someone else's
 * work (StarterKit's own history is off in the shared schema).
 */
export function createEditor({ element, document, user, onEditLink }: EditorOptions): Editor {
  return new Editor({
    element,
    extensions: [
      // The content schema, shared with the server (export, import): @tandem/schema.
      ...contentExtensions(),
      Placeholder.configure({ placeholder: "Start writing, or pick a style in the toolbar…" }),
      Collaboration.configure({ document: document.doc, field: CONTENT_FRAGMENT }),
      CollaborationCaret.configure({
        // The extension only reads `awareness` from its provider.
        provider: { awareness: document.awareness },
        user,
        render: caret,
      }),
      Extension.create({
        name: "linkShortcut",
        addKeyboardShortcuts: () => ({
          "Mod-k": () => {
            onEditLink();
            return true;
          },
        }),
      }),
    ],
    editorProps: {
      attributes: {
        class: "prose",
        "data-testid": "editor",
        "aria-label": "Document text",
        "aria-multiline": "true",
        role: "textbox",
        spellcheck: "true",
      },
    },
  });
}

/** Another person's caret: a coloured bar with their name above it. */
function caret(user: Record<string, unknown>): HTMLElement {
  const color = typeof user.color === "string" ? user.color : "#6b7280";
  const name = typeof user.name === "string" ? user.name : "Someone";
  const bar = document.createElement("span");
  bar.className = "collaboration-carets__caret";
  bar.style.borderColor = color;
  bar.dataset.testid = "caret";
  bar.dataset.user = name;
  const label = document.createElement("span");
  label.className = "collaboration-carets__label";
  label.style.backgroundColor = color;
  label.textContent = name;
  bar.append(label);
  return bar;
}
