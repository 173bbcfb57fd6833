import type { Editor } from "@tiptap/core";
import { h } from "../dom.ts";
import { type IconName, icon } from "./icons.ts";

interface Tool {
  id: string;
  label: string;
  /** Keys in Tiptap's notation ("Mod-b"), shown in the tooltip. */
  keys?: string;
  /** An icon, or short text such as "H1". */
  face: IconName | { text: string };
  run(editor: Editor): void;
  isActive?(editor: Editor): boolean;
  /** Whether the command can run here (undo with nothing to undo cannot). */
  canRun?(editor: Editor): boolean;
}

const chain = (editor: Editor) => editor.chain().focus();

const heading = (level: 1 | 2 | 3): Tool => ({
  id: `h${level}`,
  label: `Heading ${level}`,
  keys: `Mod-Alt-${level}`,
  face: { text: `H${level}` },
  run: (editor) => chain(editor).toggleHeading({ level }).run(),
  isActive: (editor) => editor.isActive("heading", { level }),
});

/** The toolbar, in groups separated by a thin rule. Each id is also its data-testid (tool-<id>). */
function tools(editLink: () => void): Tool[][] {
  return [
    [
      {
        id: "undo",
        label: "Undo",
        keys: "Mod-z",
        face: "undo",
        run: (editor) => chain(editor).undo().run(),
        canRun: (editor) => editor.can().undo(),
      },
      {
        id: "redo",
        label: "Redo",
        keys: "Mod-Shift-z",
        face: "redo",
        run: (editor) => chain(editor).redo().run(),
        canRun: (editor) => editor.can().redo(),
      },
    ],
    [heading(1), heading(2), heading(3)],
    [
      {
        id: "bold",
        label: "Bold",
        keys: "Mod-b",
        face: "bold",
        run: (editor) => chain(editor).toggleBold().run(),
        isActive: (editor) => editor.isActive("bold"),
      },
      {
        id: "italic",
        label: "Italic",
        keys: "Mod-i",
        face: "italic",
        run: (editor) => chain(editor).toggleItalic().run(),
        isActive: (editor) => editor.isActive("italic"),
      },
      {
        id: "strike",
        label: "Strikethrough",
        keys: "Mod-Shift-s",
        face: "strike",
        run: (editor) => chain(editor).toggleStrike().run(),
        isActive: (editor) => editor.isActive("strike"),
      },
      {
        id: "code",
        label: "Inline code",
        keys: "Mod-e",
        face: "code",
        run: (editor) => chain(editor).toggleCode().run(),
        isActive: (editor) => editor.isActive("code"),
      },
      {
        id: "link",
        label: "Link",
        keys: "Mod-k",
        face: "link",
        run: () => editLink(),
        isActive: (editor) => editor.isActive("link"),
      },
    ],
    [
      {
        id: "bullet-list",
        label: "Bulleted list",
        keys: "Mod-Shift-8",
        face: "bulletList",
        run: (editor) => chain(editor).toggleBulletList().run(),
        isActive: (editor) => editor.isActive("bulletList"),
      },
      {
        id: "ordered-list",
        label: "Numbered list",
        keys: "Mod-Shift-7",
        face: "orderedList",
        run: (editor) => chain(editor).toggleOrderedList().run(),
        isActive: (editor) => editor.isActive("orderedList"),
      },
      {
        id: "task-list",
        label: "Task list",
        keys: "Mod-Shift-9",
        face: "taskList",
        run: (editor) => chain(editor).toggleTaskList().run(),
        isActive: (editor) => editor.isActive("taskList"),
      },
    ],
    [
      {
        id: "blockquote",
        label: "Quote",
        keys: "Mod-Shift-b",
        face: "blockquote",
        run: (editor) => chain(editor).toggleBlockquote().run(),
        isActive: (editor) => editor.isActive("blockquote"),
      },
      {
        id: "code-block",
        label: "Code block",
        keys: "Mod-Alt-c",
        face: "codeBlock",
        run: (editor) => chain(editor).toggleCodeBlock().run(),
        isActive: (editor) => editor.isActive("codeBlock"),
      },
    ],
  ];
}

const isMac = /Mac|iPhone|iPad/.test(navigator.userAgent);

/** "Mod-Shift-z" → "Ctrl+Shift+Z", or "⌘⇧Z" on a Mac. */
export function describeKeys(keys: string): string {
  const names: Record<string, string> = isMac
    ? { Mod: "⌘", Shift: "⇧", Alt: "⌥" }
    : { Mod: "Ctrl", Shift: "Shift", Alt: "Alt" };
  const parts = keys.split("-").map((key) => names[key] ?? key.toUpperCase());
  return parts.join(isMac ? "" : "+");
}

/**
 * The formatting toolbar. Buttons keep the editor's focus (mousedown does not move it), so the
 * caret others see does not vanish on every click; their pressed state follows the selection.
 */
export function createToolbar(editor: Editor, editLink: () => void): HTMLElement {
  const buttons: { tool: Tool; button: HTMLButtonElement }[] = [];
  const groups = tools(editLink).map((group) =>
    h(
      "div",
      { class: "toolbar__group", role: "group" },
      ...group.map((tool) => {
        const title = tool.keys ? `${tool.label} (${describeKeys(tool.keys)})` : tool.label;
        const button = h(
          "button",
          {
            type: "button",
            class: "toolbar__button",
            title,
            "aria-label": tool.label,
            "data-testid": `tool-${tool.id}`,
          },
          typeof tool.face === "string"
            ? icon(tool.face)
            : h("span", { class: "toolbar__text" }, tool.face.text),
        );
        button.addEventListener("mousedown", (event) => event.preventDefault());
        button.addEventListener("click", () => tool.run(editor));
        buttons.push({ tool, button });
        return button;
      }),
    ),
  );
  const toolbar = h(
    "div",
    { class: "toolbar", role: "toolbar", "aria-label": "Formatting", "data-testid": "toolbar" },
    ...groups,
  );

  let scheduled = false;
  const refresh = () => {
    scheduled = false;
    const editable = editor.isEditable;
    for (const { tool, button } of buttons) {
      if (tool.isActive) button.setAttribute("aria-pressed", String(tool.isActive(editor)));
      button.disabled = !editable || (tool.canRun ? !tool.canRun(editor) : false);
    }
  };
  // Many transactions can land in one frame (remote edits); draw once per frame.
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(refresh);
  };
  editor.on("transaction", schedule);
  editor.on("update", schedule);
  refresh();
  return toolbar;
}
