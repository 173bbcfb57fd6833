import { h } from "./dom.ts";
import { whenOfflineReady } from "./sw-register.ts";

/** Pieces shared by both pages: the logo link home and the footer. */

export function brand(): HTMLElement {
  const logo = document.createElement("template");
  logo.innerHTML =
    '<svg viewBox="0 0 64 64" width="26" height="26" aria-hidden="true"><rect width="64" height="64" rx="14" fill="#1f2937"/>' +
    '<circle cx="25" cy="32" r="13" fill="none" stroke="#60a5fa" stroke-width="6"/>' +
    '<circle cx="39" cy="32" r="13" fill="none" stroke="#f472b6" stroke-width="6"/></svg>';
  return h(
    "a",
    { class: "brand", href: "/", "aria-label": "Tandem home" },
    logo.content.firstElementChild ?? "",
    h("span", { class: "brand__name" }, "Tandem"),
  );
}

export function footer(note?: string): HTMLElement {
  const offline = h(
    "span",
    {
      class: "badge",
      hidden: true,
      "data-testid": "offline-ready",
      title: "This app opens without a network",
    },
    "Available offline",
  );
  whenOfflineReady(() => {
    offline.hidden = false;
  });
  return h(
    "footer",
    { class: "footer" },
    h("span", {}, "Tandem · real-time collaboration on Yjs"),
    note ? h("span", { class: "footer__note" }, note) : null,
    offline,
  );
}
