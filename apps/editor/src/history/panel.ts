import type { TandemDocument } from "@tandem/provider";
import type { Node } from "@tiptap/pm/model";
import { h } from "../dom.ts";
import { icon } from "../editor/icons.ts";
import { type HistoryApi, HistoryError, type Version } from "./api.ts";
import type { AuthorDirectory } from "./authors.ts";
import { versionDocument } from "./documents.ts";
import { createVersionList } from "./list.ts";
import { askVersionName } from "./name-dialog.ts";
import { versionInSentence, versionTitle } from "./names.ts";
import { confirmRestore } from "./restore-dialog.ts";
import { createVersionView } from "./version-view.ts";

/** How often the open list asks the server for new versions (only while the tab is visible). */
const POLL_MS = 4_000;
/** Versions kept decoded in memory (they never change, so they are fetched once). */
const CACHED_VERSIONS = 8;
/** How long naming or restoring waits for this tab's latest edits to reach the server. */
const STORE_WAIT_MS = 10_000;

/**
 * The version history panel: a side panel beside the document (a full-width sheet on a narrow
 * screen) with the list of versions, and, for one version, its preview, its comparison with the
 * current document and the restore button. It is not modal: the document stays editable
 * beside it. The list is refreshed every few seconds while the panel is open and the tab
 * visible, when the tab comes back to the front, and after every action.
 */
export function createHistoryPanel(options: {
  document: TandemDocument;
  api: HistoryApi;
  authors: AuthorDirectory;
}): { toggle: HTMLButtonElement; panel: HTMLElement } {
  const { document: shared, api } = options;
  const canEdit = () => !shared.readOnly;

  const toggle = h(
    "button",
    {
      type: "button",
      class: "button button--ghost history-toggle",
      "aria-controls": "history-panel",
      "aria-expanded": "false",
      // The word "History" is hidden on narrow screens; the name stays.
      "aria-label": "Version history",
      title: "Version history",
      "data-testid": "history-toggle",
    },
    icon("history"),
    h("span", {}, "History"),
  );
  const back = h(
    "button",
    {
      type: "button",
      class: "icon-button",
      "aria-label": "Back to all versions",
      title: "Back to all versions",
      hidden: true,
      "data-testid": "history-back",
    },
    icon("back"),
  );
  const close = h(
    "button",
    {
      type: "button",
      class: "icon-button",
      "aria-label": "Close version history",
      title: "Close",
      "data-testid": "history-close",
    },
    icon("close"),
  );
  const title = h(
    "h2",
    { class: "history__title", id: "history-title", tabindex: "-1" },
    "Version history",
  );
  const nameButton = h(
    "button",
    { type: "button", class: "button", "data-testid": "history-name" },
    "Name current version",
  );
  const message = h("p", {
    class: "history__message",
    role: "status",
    "data-testid": "history-message",
  });
  const error = h("p", {
    class: "history__error",
    role: "alert",
    hidden: true,
    "data-testid": "history-error",
  });

  const versionDocs = new Map<string, Promise<Node>>();
  const load = (version: Version): Promise<Node> => {
    let loading = versionDocs.get(version.id);
    if (!loading) {
      loading = api.content(version.id).then(versionDocument);
      loading.catch(() => versionDocs.delete(version.id));
      versionDocs.set(version.id, loading);
      for (const id of versionDocs.keys()) {
        if (versionDocs.size <= CACHED_VERSIONS) break;
        versionDocs.delete(id);
      }
    }
    return loading;
  };

  let opener: HTMLElement | null = null;
  const list = createVersionList({
    authors: options.authors,
    onOpen: (version, entry) => {
      opener = entry;
      openVersion(version);
    },
  });
  const listView = h(
    "div",
    { class: "history__list" },
    h("div", { class: "history__actions" }, nameButton),
    list.element,
  );
  const view = createVersionView({
    document: shared,
    authors: options.authors,
    load,
    canRestore: canEdit,
    onRestore: (version) => void restore(version),
  });
  const panel = h(
    "aside",
    {
      class: "history",
      id: "history-panel",
      "aria-labelledby": "history-title",
      hidden: true,
      "data-view": "list",
      "data-testid": "history-panel",
    },
    h("header", { class: "history__header" }, back, title, close),
    h("div", { class: "history__body" }, message, error, listView, view.element),
  );

  // ---- The list, kept fresh ----

  let open = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let inFlight: Promise<void> | null = null;
  let again = false;

  const showError = (failure: unknown) => {
    error.textContent = failure instanceof Error ? failure.message : String(failure);
    error.hidden = false;
  };
  const refresh = (): Promise<void> => {
    if (!open) return Promise.resolve();
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        list.render(await api.list());
        error.hidden = true;
        nameButton.disabled = !canEdit();
      } catch (failure) {
        if (failure instanceof HistoryError && failure.status === 404) {
          // Not stored on the server yet (a new, empty document): nothing to list.
          list.render({ versions: [], pendingAuthors: [] });
          error.hidden = true;
        } else {
          if (failure instanceof HistoryError && failure.status === 501) nameButton.disabled = true;
          showError(failure);
        }
      } finally {
        inFlight = null;
        schedule();
        if (again) {
          again = false;
          void refresh();
        }
      }
    })();
    return inFlight;
  };
  const schedule = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (!open) return;
    timer = setTimeout(() => {
      if (document.visibilityState === "visible") void refresh();
      else schedule();
    }, POLL_MS);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void refresh();
  });

  // ---- Open, close, list ↔ one version ----

  const showList = () => {
    view.close();
    panel.dataset.view = "list";
    listView.hidden = false;
    back.hidden = true;
  };
  const openVersion = (version: Version) => {
    message.textContent = "";
    panel.dataset.view = "version";
    listView.hidden = true;
    back.hidden = false;
    view.show(version);
    view.focus();
  };
  const setOpen = (value: boolean) => {
    open = value;
    panel.hidden = !value;
    toggle.setAttribute("aria-expanded", String(value));
    document.body.classList.toggle("history-open", value);
    if (value) {
      showList();
      nameButton.disabled = !canEdit();
      void refresh();
      title.focus();
    } else {
      const hadFocus = panel.contains(document.activeElement);
      showList();
      schedule();
      message.textContent = "";
      if (hadFocus) toggle.focus();
    }
  };

  toggle.addEventListener("click", () => setOpen(!open));
  close.addEventListener("click", () => setOpen(false));
  back.addEventListener("click", () => {
    showList();
    (opener?.isConnected ? opener : title).focus();
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    event.preventDefault();
    if (panel.dataset.view === "version") back.click();
    else setOpen(false);
  });

  // ---- Actions ----

  /** This tab's latest edits on the server first: a version records what the server has. */
  const stored = async () => {
    if (shared.stored) return;
    if (shared.status !== "connected") {
      throw new Error("You are offline: your latest edits have not reached the server yet.");
    }
    let timeout: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        shared.whenStored(),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(
            () => reject(new Error("Your latest edits are not saved yet: try again in a moment.")),
            STORE_WAIT_MS,
          );
        }),
      ]);
    } finally {
      clearTimeout(timeout);
    }
  };

  nameButton.addEventListener("click", async () => {
    const outcome: { named?: Version } = {};
    const done = await askVersionName(async (label) => {
      await stored();
      outcome.named = await api.name(label);
    });
    if (!done || !outcome.named) return;
    message.textContent = `Named the current version “${outcome.named.label ?? ""}”.`;
    await refresh();
    list.focusFirst();
  });

  const restore = async (version: Version) => {
    const outcome: { before?: Version } = {};
    const done = await confirmRestore(versionInSentence(version), async () => {
      await stored();
      outcome.before = (await api.restore(version.id)).before;
    });
    if (!done) return;
    showList();
    const undo = outcome.before ? ` To undo it, restore “${versionTitle(outcome.before)}”.` : "";
    message.textContent = `Restored ${versionInSentence(version)}.${undo}`;
    await refresh();
    list.focusFirst();
  };

  return { toggle, panel };
}
