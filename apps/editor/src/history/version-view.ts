import type { TandemDocument } from "@tandem/provider";
import type { Editor, JSONContent } from "@tiptap/core";
import type { Node } from "@tiptap/pm/model";
import { h, replaceChildren } from "../dom.ts";
import { dayAndTime } from "../time.ts";
import type { Version } from "./api.ts";
import type { AuthorDirectory } from "./authors.ts";
import { compareWithCurrent } from "./compare.ts";
import type { DiffResult } from "./diff.ts";
import { authorName, KIND_TEXT, namesSentence, versionTitle } from "./names.ts";
import { createViewer } from "./viewer.ts";

export type ViewMode = "preview" | "compare";

/** Recomputing a comparison waits for typing to pause this long. */
const COMPARE_DEBOUNCE_MS = 300;

/**
 * One version, opened from the list: its content read-only (Preview), or compared with the live
 * document (Compare, kept up to date while people type), and the button that restores it.
 */
export function createVersionView(options: {
  document: TandemDocument;
  authors: AuthorDirectory;
  load(version: Version): Promise<Node>;
  canRestore(): boolean;
  onRestore(version: Version): void;
}): {
  element: HTMLElement;
  show(version: Version, mode?: ViewMode): void;
  focus(): void;
  close(): void;
} {
  const title = h("h3", {
    class: "version-view__title",
    id: "version-view-title",
    tabindex: "-1",
    "data-testid": "version-view-title",
  });
  const meta = h("p", { class: "version-view__meta" });
  const tabs = (["preview", "compare"] as const).map((mode) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        class: "tabs__tab",
        id: `version-tab-${mode}`,
        "aria-controls": "version-doc-panel",
        "data-testid": `version-tab-${mode}`,
      },
      mode === "preview" ? "Preview" : "Compare with current",
    ),
  );
  const restore = h(
    "button",
    { type: "button", class: "button button--primary", "data-testid": "version-restore" },
    "Restore this version",
  );
  const summary = h("div", {
    class: "version-view__summary",
    "data-testid": "compare-summary",
    "aria-live": "polite",
    hidden: true,
  });
  const status = h("p", { class: "version-view__status", role: "status" });
  const host = h("div", {
    class: "version-view__doc",
    id: "version-doc-panel",
    role: "tabpanel",
    tabindex: "0",
  });
  const element = h(
    "section",
    {
      class: "version-view",
      "aria-labelledby": "version-view-title",
      "data-testid": "version-view",
      hidden: true,
    },
    h("div", { class: "version-view__head" }, title, meta),
    h(
      "div",
      { class: "version-view__bar" },
      h("div", { class: "tabs", role: "tablist", "aria-label": "Show" }, ...tabs),
      restore,
    ),
    summary,
    status,
    host,
  );

  let current: { version: Version; mode: ViewMode; doc: Node | null } | null = null;
  let viewer: Editor | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const setContent = (content: JSONContent, label: string) => {
    if (viewer) {
      viewer.commands.setContent(content, { emitUpdate: false });
      viewer.view.dom.setAttribute("aria-label", label);
    } else {
      viewer = createViewer(host, content, { label, testId: "version-doc" });
    }
  };

  const draw = () => {
    if (!current?.doc) return;
    const { version, mode, doc } = current;
    element.dataset.mode = mode;
    if (mode === "preview") {
      summary.hidden = true;
      setContent(doc.toJSON() as JSONContent, `${versionTitle(version)}, read only`);
      return;
    }
    const result = compareWithCurrent(doc, options.document.doc, options.authors);
    setContent(result.doc as JSONContent, `Changes since ${versionTitle(version)}`);
    replaceChildren(summary, ...summaryOf(result));
    summary.hidden = false;
  };

  const onDocumentUpdate = () => {
    if (current?.mode !== "compare") return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      draw();
    }, COMPARE_DEBOUNCE_MS);
  };

  const select = (mode: ViewMode) => {
    tabs.forEach((tab, index) => {
      const selected = (index === 0 ? "preview" : "compare") === mode;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
    });
    host.setAttribute("aria-labelledby", `version-tab-${mode}`);
    if (current) {
      current.mode = mode;
      draw();
    }
  };

  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(index === 0 ? "preview" : "compare"));
    // Arrow keys move between the two tabs, as in any tab list.
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      event.preventDefault();
      const other = tabs[1 - index];
      other?.focus();
      other?.click();
    });
  });
  restore.addEventListener("click", () => {
    if (current) options.onRestore(current.version);
  });

  return {
    element,
    show(version, mode = "preview") {
      current = { version, mode, doc: null };
      element.hidden = false;
      element.dataset.versionId = version.id;
      title.textContent = versionTitle(version);
      const editors = namesSentence(version.authors.map(authorName));
      meta.textContent = [
        version.label ? dayAndTime(version.time) : null,
        KIND_TEXT[version.kind],
        editors ? `edited by ${editors}` : null,
      ]
        .filter(Boolean)
        .join(" · ");
      const allowed = options.canRestore();
      restore.disabled = !allowed;
      restore.title = allowed
        ? "Make the document equal to this version again"
        : "You can only read this document";
      summary.hidden = true;
      status.textContent = "Loading the version…";
      status.hidden = false;
      host.hidden = true;
      select(mode);
      const opened = current;
      options.document.doc.on("update", onDocumentUpdate);
      options.load(version).then(
        (doc) => {
          if (current !== opened) return;
          opened.doc = doc;
          status.hidden = true;
          host.hidden = false;
          draw();
        },
        (error: unknown) => {
          if (current !== opened) return;
          status.textContent = `The version could not be loaded: ${
            error instanceof Error ? error.message : String(error)
          }`;
        },
      );
    },
    focus() {
      title.focus();
    },
    close() {
      current = null;
      element.hidden = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      options.document.doc.off("update", onDocumentUpdate);
      viewer?.destroy();
      viewer = null;
      host.replaceChildren();
    },
  };
}

/** "3 words added, 1 removed" and who added them, each in their colour. */
function summaryOf(result: DiffResult): HTMLElement[] {
  if (result.added === 0 && result.removed === 0) {
    return [h("span", { "data-testid": "compare-counts" }, "No changes since this version.")];
  }
  const words = (n: number) => `${n} word${n === 1 ? "" : "s"}`;
  const counts = h(
    "span",
    { class: "compare-counts", "data-testid": "compare-counts" },
    h("ins", { class: "change change--added" }, `${words(result.added)} added`),
    ", ",
    h("del", { class: "change change--removed" }, `${words(result.removed)} removed`),
  );
  if (result.authors.length === 0) return [counts];
  return [
    counts,
    h(
      "span",
      { class: "compare-legend" },
      "Added by ",
      ...result.authors.map((author) =>
        h(
          "span",
          { class: "compare-legend__author", style: `--change: ${author.color}` },
          h("span", { class: "compare-legend__swatch", "aria-hidden": "true" }),
          author.name,
        ),
      ),
    ),
  ];
}
