import { h, replaceChildren } from "../dom.ts";
import { initials } from "../presence/colors.ts";
import { dayAndTime } from "../time.ts";
import type { Version, VersionAuthor, VersionList } from "./api.ts";
import type { AuthorDirectory } from "./authors.ts";
import { authorName, KIND_TEXT, namesSentence, versionTitle } from "./names.ts";

/** Avatars shown per entry; more authors show as "+N". */
const MAX_AVATARS = 4;

/**
 * The list of versions, newest first: each with its name (or time), when, and who edited since
 * the version before it, as the avatars people have in presence. Above them, who edited since
 * the newest version. Entries are buttons that open the version; the list is redrawn on every
 * poll, but an entry whose content did not change keeps its element (and so the focus).
 */
export function createVersionList(options: {
  authors: AuthorDirectory;
  onOpen(version: Version, entry: HTMLElement): void;
}): { element: HTMLElement; render(list: VersionList): void; focusFirst(): void } {
  const pending = h("div", {
    class: "versions__pending",
    hidden: true,
    "data-testid": "version-pending",
  });
  // Busy until the first answer: an empty list means "none" only after that.
  const items = h("ol", {
    class: "versions__list",
    "aria-label": "Versions, newest first",
    "aria-busy": "true",
    "data-testid": "version-list",
  });
  const empty = h(
    "p",
    { class: "versions__empty", hidden: true, "data-testid": "version-empty" },
    "No versions yet. One is saved whenever editing pauses for a while, or name the current " +
      "version to keep it.",
  );
  const element = h("div", { class: "versions" }, pending, items, empty);
  const entries = new Map<string, { key: string; element: HTMLLIElement }>();

  const avatars = (authors: VersionAuthor[]): HTMLElement => {
    const shown = authors.slice(0, MAX_AVATARS).map((author) =>
      h(
        "span",
        {
          class: "avatar avatar--small",
          style: `--avatar: ${options.authors.colorOf(author.id)}`,
          title: authorName(author),
          "data-testid": "version-author",
          "data-author": authorName(author),
        },
        initials(authorName(author)),
      ),
    );
    const more = authors.length - shown.length;
    return h(
      "span",
      { class: "version__authors", "aria-hidden": "true" },
      ...shown,
      more > 0 ? h("span", { class: "version__more" }, `+${more}`) : null,
    );
  };

  const entry = (version: Version): HTMLLIElement => {
    const names = namesSentence(version.authors.map(authorName));
    const button = h(
      "button",
      { type: "button", class: "version__open", "data-testid": "version-open" },
      h("span", { class: "version__title", title: versionTitle(version) }, versionTitle(version)),
      h(
        "span",
        { class: "version__meta" },
        version.label
          ? h("time", { datetime: new Date(version.time).toISOString() }, dayAndTime(version.time))
          : null,
        h("span", { class: "version__kind" }, KIND_TEXT[version.kind]),
      ),
      avatars(version.authors),
      names ? h("span", { class: "visually-hidden" }, `Edited by ${names}`) : null,
    );
    const li = h(
      "li",
      {
        class: `version version--${version.kind}`,
        "data-testid": "version",
        "data-version-id": version.id,
        "data-kind": version.kind,
      },
      button,
    );
    button.addEventListener("click", () => options.onOpen(version, button));
    return li;
  };

  const render = (list: VersionList) => {
    const children = list.versions.map((version) => {
      const key = JSON.stringify(version);
      const known = entries.get(version.id);
      if (known && known.key === key) return known.element;
      const fresh = { key, element: entry(version) };
      entries.set(version.id, fresh);
      return fresh.element;
    });
    const ids = new Set(list.versions.map((version) => version.id));
    for (const id of entries.keys()) if (!ids.has(id)) entries.delete(id);
    // Moves only what moved: a focused entry stays focused.
    children.forEach((child, index) => {
      if (items.children[index] !== child) items.insertBefore(child, items.children[index] ?? null);
    });
    while (items.children.length > children.length) items.lastElementChild?.remove();

    const names = namesSentence(list.pendingAuthors.map(authorName));
    pending.hidden = list.pendingAuthors.length === 0;
    replaceChildren(
      pending,
      h("span", { class: "versions__pending-title" }, "Current version"),
      h("span", { class: "version__kind" }, "Edited since the last version"),
      avatars(list.pendingAuthors),
      names ? h("span", { class: "visually-hidden" }, `by ${names}`) : null,
    );
    empty.hidden = list.versions.length > 0;
    items.setAttribute("aria-busy", "false");
  };

  return {
    element,
    render,
    focusFirst() {
      items.querySelector<HTMLButtonElement>(".version__open")?.focus();
    },
  };
}
