import type { Editor } from "@tiptap/core";
import { h } from "../dom.ts";

/**
 * The link editor: a small form under the toolbar to add, change or remove the link at the
 * selection. A plain address ("example.com") gets https://; Tiptap's Link extension refuses
 * dangerous schemes (javascript:) whatever is typed here.
 */
export function createLinkEditor(editor: Editor): { element: HTMLElement; open(): void } {
  // type="text": a url input would refuse "example.com", which is what people type.
  const input = h("input", {
    type: "text",
    inputmode: "url",
    class: "link-editor__input",
    placeholder: "https://example.com",
    "aria-label": "Link address",
    "data-testid": "link-input",
  });
  const remove = h("button", { type: "button", class: "button" }, "Remove");
  const cancel = h("button", { type: "button", class: "button" }, "Cancel");
  const form = h(
    "form",
    { class: "link-editor", hidden: true, "data-testid": "link-editor" },
    input,
    h("button", { type: "submit", class: "button button--primary" }, "Apply"),
    remove,
    cancel,
  );

  const close = () => {
    form.hidden = true;
    editor.commands.focus();
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const href = normalizeHref(input.value);
    const command = editor.chain().focus().extendMarkRange("link");
    if (href) command.setLink({ href }).run();
    else command.unsetLink().run();
    form.hidden = true;
  });
  remove.addEventListener("click", () => {
    editor.chain().focus().extendMarkRange("link").unsetLink().run();
    form.hidden = true;
  });
  cancel.addEventListener("click", close);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });

  return {
    element: form,
    open() {
      if (!editor.isEditable) return;
      const current = editor.getAttributes("link").href;
      input.value = typeof current === "string" ? current : "";
      remove.hidden = typeof current !== "string";
      form.hidden = false;
      input.focus();
      input.select();
    },
  };
}

function normalizeHref(value: string): string | null {
  const trimmed = value.trim();
  if (trimmed === "") return null;
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed) || trimmed.startsWith("/") || trimmed.startsWith("#")) {
    return trimmed;
  }
  return `https://${trimmed}`;
}
