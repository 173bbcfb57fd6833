import { expect, type Locator, type Page } from "@playwright/test";
import type { Person } from "./fixtures.ts";

/**
 * Reading and steering the editor the way a person does: through the page. The editable area
 * also holds things that are not the document's text, all marked contenteditable="false":
 * other people's carets (their labels hold names) and task items' checkboxes (with a hidden
 * label repeating the item's text). Text is read, and searched, with them left out.
 */

/** The document as text, one line per top-level block. */
export function documentText(page: Page): Promise<string> {
  return blocksText(page.getByTestId("editor"));
}

/** A rendered document's text (the editor, or a read-only view of a version), per block. */
export function blocksText(prose: Locator): Promise<string> {
  return prose.evaluate((editor) => {
    const copy = editor.cloneNode(true) as HTMLElement;
    for (const widget of copy.querySelectorAll('[contenteditable="false"]')) widget.remove();
    return Array.from(copy.children, (block) => block.textContent ?? "").join("\n");
  });
}

/** Waits until everyone shows the same text, and returns it. */
export async function expectSameText(people: Person[], timeout = 20_000): Promise<string> {
  let texts: string[] = [];
  await expect
    .poll(
      async () => {
        texts = await Promise.all(people.map((person) => documentText(person.page)));
        return texts.every((text) => text === texts[0]);
      },
      { timeout, message: "every editor shows the same text" },
    )
    .toBe(true);
  return texts[0] ?? "";
}

/** Connected, and every local edit acknowledged by the server. */
export async function expectSaved(person: Person, timeout = 20_000): Promise<void> {
  await expect(person.status).toHaveAttribute("data-state", "connected", { timeout });
  await expect(person.status).toHaveAttribute("data-saved", "true", { timeout });
  await expect(person.saveState).toHaveText("Saved");
}

/**
 * Puts the caret at `offset` characters into the first occurrence of `text` in the editor (by
 * default right after it), or selects `length` characters from there. The DOM selection is set
 * and the editor given a frame to read it, as after a click.
 */
export async function placeCaret(
  page: Page,
  text: string,
  { offset = text.length, length = 0 }: { offset?: number; length?: number } = {},
): Promise<void> {
  await page.getByTestId("editor").focus();
  const found = await page.getByTestId("editor").evaluate(
    async (editor, { text, offset, length }) => {
      const walker = document.createTreeWalker(editor, NodeFilter.SHOW_TEXT, {
        acceptNode: (node) =>
          node.parentElement?.closest('[contenteditable="false"]')
            ? NodeFilter.FILTER_REJECT
            : NodeFilter.FILTER_ACCEPT,
      });
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const index = node.textContent?.indexOf(text) ?? -1;
        if (index < 0) continue;
        const [start, end] = [index + offset, index + offset + length];
        const selection = window.getSelection();
        if (!selection) return false;
        const unchanged =
          selection.anchorNode === node &&
          selection.anchorOffset === start &&
          selection.focusNode === node &&
          selection.focusOffset === end;
        // The editor reads the DOM selection on "selectionchange", which only a change fires.
        const changed = unchanged
          ? Promise.resolve()
          : new Promise((resolve) =>
              document.addEventListener("selectionchange", resolve, { once: true }),
            );
        selection.setBaseAndExtent(node, start, node, end);
        await changed;
        await new Promise((resolve) => requestAnimationFrame(resolve));
        return true;
      }
      return false;
    },
    { text, offset, length },
  );
  if (!found) throw new Error(`"${text}" is not in the editor (as one text node)`);
}

/** Selects the first occurrence of `text`. */
export function selectText(page: Page, text: string): Promise<void> {
  return placeCaret(page, text, { offset: 0, length: text.length });
}

/** Types like a person: one key at a time. */
export async function typeText(person: Person, text: string, delay = 15): Promise<void> {
  await person.page.keyboard.type(text, { delay });
}
