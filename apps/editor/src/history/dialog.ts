import { h } from "../dom.ts";

/**
 * A modal dialog that runs an action on confirm and stays open until the action succeeds: a
 * failure is shown in the dialog (role="alert"), so nothing is lost and it can be tried again.
 * Resolves true once the action succeeded, false if cancelled (the button or Escape).
 */
export function actionDialog(options: {
  title: string;
  text: string;
  /** Inputs between the text and the buttons. */
  fields?: HTMLElement[];
  confirm: string;
  /** What the confirm button says while the action runs. */
  busy: string;
  testId: string;
  action(): Promise<void>;
  /** Checked before the action; a message keeps the dialog open. */
  validate?(): string | null;
  /** Focused when the dialog opens (default: the confirm button). */
  focus?: HTMLElement;
}): Promise<boolean> {
  const titleId = `${options.testId}-title`;
  const error = h("p", { class: "dialog__error", role: "alert", hidden: true });
  const cancel = h(
    "button",
    { type: "button", class: "button", "data-testid": `${options.testId}-cancel` },
    "Cancel",
  );
  const confirm = h(
    "button",
    { type: "submit", class: "button button--primary", "data-testid": `${options.testId}-confirm` },
    options.confirm,
  );
  const form = h(
    "form",
    { method: "dialog", class: "dialog__form" },
    h("h2", { class: "dialog__title", id: titleId }, options.title),
    h("p", { class: "dialog__text" }, options.text),
    ...(options.fields ?? []),
    error,
    h("div", { class: "dialog__actions" }, cancel, confirm),
  );
  const dialog = h(
    "dialog",
    { class: "dialog", "aria-labelledby": titleId, "data-testid": options.testId },
    form,
  );
  document.body.append(dialog);

  return new Promise((resolve) => {
    let running = false;
    const finish = (done: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(done);
    };
    const fail = (message: string) => {
      error.textContent = message;
      error.hidden = false;
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (running) return;
      const invalid = options.validate?.() ?? null;
      if (invalid) {
        fail(invalid);
        return;
      }
      running = true;
      confirm.disabled = true;
      confirm.textContent = options.busy;
      error.hidden = true;
      try {
        await options.action();
        finish(true);
      } catch (failure) {
        fail(failure instanceof Error ? failure.message : String(failure));
        confirm.disabled = false;
        confirm.textContent = options.confirm;
      } finally {
        running = false;
      }
    });
    cancel.addEventListener("click", () => {
      if (!running) finish(false);
    });
    dialog.addEventListener("cancel", (event) => {
      // Escape: closes, unless the action is under way (its outcome must be seen).
      event.preventDefault();
      if (!running) finish(false);
    });
    dialog.showModal();
    (options.focus ?? confirm).focus();
  });
}
