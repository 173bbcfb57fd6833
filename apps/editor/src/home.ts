import { h, replaceChildren } from "./dom.ts";
import { brand, footer } from "./layout.ts";
import { randomDocumentName } from "./names.ts";
import { forgetDocument, recentDocuments } from "./recent.ts";
import { documentPath } from "./router.ts";
import { timeAgo } from "./time.ts";

/** The home page: start a new document, open one by name, or go back to a recent one. */
export function showHome(root: HTMLElement): void {
  document.title = "Tandem";
  const newButton = h(
    "button",
    {
      type: "button",
      class: "button button--primary button--large",
      "data-testid": "new-document",
    },
    "New document",
  );
  newButton.addEventListener("click", () => {
    window.location.assign(documentPath(randomDocumentName()));
  });

  const nameInput = h("input", {
    type: "text",
    name: "name",
    class: "open-form__input",
    placeholder: "or open one by name",
    "aria-label": "Document name",
    "data-testid": "open-name",
  });
  const openForm = h(
    "form",
    { class: "open-form" },
    nameInput,
    h("button", { type: "submit", class: "button" }, "Open"),
  );
  openForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (!name) return;
    window.location.assign(documentPath(name));
  });

  const recentList = h("ul", { class: "recent__list", "data-testid": "recent-list" });
  const renderRecent = () => {
    const entries = recentDocuments();
    if (entries.length === 0) {
      replaceChildren(
        recentList,
        h("li", { class: "recent__empty" }, "Documents you open in this browser appear here."),
      );
      return;
    }
    replaceChildren(
      recentList,
      ...entries.map((entry) => {
        const forget = h(
          "button",
          {
            type: "button",
            class: "recent__forget",
            title: "Remove from this list (the document itself stays)",
            "aria-label": `Remove ${entry.name} from this list`,
          },
          "×",
        );
        forget.addEventListener("click", () => {
          forgetDocument(entry.name);
          renderRecent();
        });
        return h(
          "li",
          { class: "recent__item", "data-testid": "recent-document" },
          h("a", { href: documentPath(entry.name), class: "recent__link" }, entry.name),
          h("span", { class: "recent__time" }, timeAgo(entry.openedAt)),
          forget,
        );
      }),
    );
  };
  renderRecent();

  replaceChildren(
    root,
    h(
      "div",
      { class: "app app--home" },
      h("header", { class: "topbar" }, brand()),
      h(
        "main",
        { class: "home" },
        h(
          "section",
          { class: "hero" },
          h("h1", { class: "hero__title" }, "Write together, even offline."),
          h(
            "p",
            { class: "hero__text" },
            "Tandem keeps every copy of a document in step as people type. Edits made without a " +
              "network stay in your browser and merge when you are back: nothing is lost.",
          ),
          h("div", { class: "hero__actions" }, newButton, openForm),
        ),
        h(
          "section",
          { class: "recent", "aria-labelledby": "recent-title" },
          h("h2", { class: "recent__title", id: "recent-title" }, "Recently opened"),
          recentList,
        ),
      ),
      footer(),
    ),
  );
}
