import { h } from "../dom.ts";
import { PALETTE } from "./colors.ts";
import { cleanName } from "./identity.ts";

export interface NameChoice {
  name: string;
  color: string;
}

/**
 * Asks for the name others will see (and a colour), in a modal dialog. The first time it cannot
 * be dismissed: a document needs to know who is editing. Later (renaming) it can be cancelled,
 * which resolves null.
 */
export function askName(
  current: { name: string | null; color: string },
  { canCancel }: { canCancel: boolean },
): Promise<NameChoice | null> {
  const input = h("input", {
    name: "name",
    type: "text",
    required: true,
    maxlength: 40,
    autocomplete: "name",
    placeholder: "Your name",
    "aria-label": "Your name",
    "data-testid": "name-input",
  });
  input.value = current.name ?? "";

  const swatches = PALETTE.map((color) => {
    const radio = h("input", {
      type: "radio",
      name: "color",
      value: color,
      "aria-label": `Colour ${color}`,
      checked: color === current.color,
    });
    return h("label", { class: "swatch", style: `--swatch: ${color}` }, radio);
  });

  const cancel = canCancel
    ? h("button", { type: "button", class: "button", value: "cancel" }, "Cancel")
    : null;
  const form = h(
    "form",
    { method: "dialog", class: "dialog__form" },
    h("h2", { class: "dialog__title" }, current.name ? "Change your name" : "What's your name?"),
    h(
      "p",
      { class: "dialog__text" },
      "Others see it next to your cursor and in the list of people here.",
    ),
    input,
    h("fieldset", { class: "swatches" }, h("legend", {}, "Your colour"), ...swatches),
    h(
      "div",
      { class: "dialog__actions" },
      cancel,
      h(
        "button",
        { type: "submit", class: "button button--primary", "data-testid": "name-submit" },
        "Continue",
      ),
    ),
  );
  const dialog = h("dialog", { class: "dialog", "data-testid": "name-dialog" }, form);
  document.body.append(dialog);

  return new Promise((resolve) => {
    const finish = (choice: NameChoice | null) => {
      dialog.close();
      dialog.remove();
      resolve(choice);
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = cleanName(input.value);
      if (!name) {
        input.focus();
        return;
      }
      const picked = form.querySelector<HTMLInputElement>('input[name="color"]:checked');
      finish({ name, color: picked?.value ?? current.color });
    });
    cancel?.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", (event) => {
      // Escape: allowed only when there is already a name to fall back on.
      event.preventDefault();
      if (canCancel) finish(null);
    });
    dialog.showModal();
    input.focus();
    input.select();
  });
}
