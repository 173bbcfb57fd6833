import { h } from "../dom.ts";
import { MAX_LABEL_LENGTH } from "./api.ts";
import { actionDialog } from "./dialog.ts";

/**
 * Asks for a name for the current version ("Sent to legal") and saves it with `save`. A named
 * version is kept until someone deletes it; automatic ones are thinned out over time.
 */
export function askVersionName(save: (label: string) => Promise<void>): Promise<boolean> {
  const input = h("input", {
    type: "text",
    name: "label",
    required: true,
    maxlength: MAX_LABEL_LENGTH,
    autocomplete: "off",
    placeholder: "e.g. Sent to legal",
    "aria-label": "Version name",
    "data-testid": "version-name-input",
  });
  return actionDialog({
    title: "Name the current version",
    text: "A named version is kept until someone deletes it, so you can always come back to it.",
    fields: [input],
    confirm: "Save name",
    busy: "Saving…",
    testId: "version-name-dialog",
    focus: input,
    validate: () => (input.value.trim() === "" ? "Type a name for this version." : null),
    action: () => save(input.value.trim()),
  });
}
