import { createClient, type TandemDocument, type TandemError, type User } from "@tandem/provider";
import type { Editor } from "@tiptap/core";
import { type AppConfig, saveToken } from "./config.ts";
import { h, replaceChildren } from "./dom.ts";
import { icon } from "./editor/icons.ts";
import { createLinkEditor } from "./editor/link.ts";
import { createEditor } from "./editor/setup.ts";
import { createToolbar } from "./editor/toolbar.ts";
import { createHistoryApi } from "./history/api.ts";
import { createAuthorDirectory } from "./history/authors.ts";
import { createHistoryPanel } from "./history/panel.ts";
import { brand, footer } from "./layout.ts";
import { trackActivity } from "./presence/activity.ts";
import { initials } from "./presence/colors.ts";
import { type Identity, loadIdentity, saveColor, saveName } from "./presence/identity.ts";
import { askName } from "./presence/name-prompt.ts";
import { createPeerList } from "./presence/peer-list.ts";
import { rememberDocument } from "./recent.ts";
import { documentPath } from "./router.ts";
import { createAuthNotice, refusalReason } from "./status/auth-notice.ts";
import { createStatusIndicator } from "./status/indicator.ts";

/**
 * A document page: the shared document from the SDK, the editor bound to it, and around it who
 * is here and whether everything is saved.
 */
export async function showDocument(
  root: HTMLElement,
  name: string,
  config: AppConfig,
): Promise<void> {
  document.title = `${name} · Tandem`;
  rememberDocument(name);

  const identity = loadIdentity(config);
  if (!identity.name) {
    const choice = await askName(identity, { canCancel: false });
    if (choice) applyChoice(identity, choice);
  }
  const user = (): User => ({
    id: identity.id,
    name: identity.name ?? "Anonymous",
    color: identity.color,
  });

  const client = createClient({
    url: config.serverUrl,
    ...(config.token ? { token: config.token } : {}),
  });
  const shared = client.open(name, { user: user() });

  const status = createStatusIndicator(shared);
  const history = createHistoryPanel({
    document: shared,
    api: createHistoryApi({ serverUrl: config.serverUrl, document: name, token: config.token }),
    // From the start: every tab seen in presence is someone whose edits can be attributed.
    authors: createAuthorDirectory(shared, user),
  });
  const meChip = h("button", { type: "button", class: "me", "data-testid": "me-chip" });
  const editorHost = h("div", { class: "page__editor" });
  const page = h("section", { class: "page" }, editorHost);
  const workspace = h("main", { class: "workspace" }, page);
  const toolbarRow = h("div", { class: "toolbar-row" });
  replaceChildren(
    root,
    h(
      "div",
      { class: "app app--document" },
      h(
        "header",
        { class: "topbar" },
        brand(),
        h(
          "div",
          { class: "doc-title" },
          h("h1", { class: "doc-title__name", "data-testid": "doc-name", title: name }, name),
          shareButton(name),
          history.toggle,
        ),
        h("div", { class: "topbar__end" }, status.element, meChip),
      ),
      toolbarRow,
      workspace,
      history.panel,
      footer(config.serverOverridden ? `server: ${config.serverUrl}` : undefined),
    ),
  );

  // Listen before anything is awaited: the server may refuse the token at once.
  const access = watchAccess(shared, page, status, { name, hadToken: config.token !== null });

  // The offline cache first: the editor then opens on the last known state instead of an empty
  // page that fills in a moment later (and works the same with no network at all).
  await shared.whenLoaded();

  const linkEditor: { open(): void } = { open: () => {} };
  const editor = createEditor({
    element: editorHost,
    document: shared,
    user: user(),
    onEditLink: () => linkEditor.open(),
  });
  const link = createLinkEditor(editor);
  linkEditor.open = link.open;
  replaceChildren(toolbarRow, createToolbar(editor, link.open), link.element);

  const people = createPeerList(shared, () => user());
  workspace.append(people.panel);
  trackActivity(editor, shared);

  const renderMe = () => {
    replaceChildren(
      meChip,
      h(
        "span",
        { class: "avatar", style: `--avatar: ${identity.color}`, "aria-hidden": "true" },
        initials(user().name),
      ),
      h("span", { class: "me__name" }, user().name),
    );
    meChip.title = identity.fromToken
      ? "Your name comes from your token"
      : "Change your name or colour";
  };
  renderMe();
  meChip.addEventListener("click", async () => {
    const choice = await askName(identity, { canCancel: true });
    if (!choice) return;
    applyChoice(identity, choice);
    shared.setUser(user());
    renderMe();
    people.refresh();
  });

  access.attach(editor);
  editor.commands.focus("end");
}

/** Stores a name and colour from the dialog; a token's name is the server's, not ours. */
function applyChoice(identity: Identity, choice: { name: string; color: string }): void {
  if (!identity.fromToken) {
    identity.name = choice.name;
    saveName(choice.name);
  }
  identity.color = choice.color;
  saveColor(choice.color);
}

/**
 * Follows what the server allows: a refused token replaces the editor with an explanation; a
 * read-only token makes the editor read-only. The editor arrives later (after the offline
 * cache is read), hence attach().
 */
function watchAccess(
  shared: TandemDocument,
  page: HTMLElement,
  status: ReturnType<typeof createStatusIndicator>,
  details: { name: string; hadToken: boolean },
): { attach(editor: Editor): void } {
  let editor: Editor | null = null;
  let refused = false;
  const apply = () => {
    if (!editor) return;
    if (refused) {
      editor.setEditable(false);
      return;
    }
    if (shared.status !== "connected") return;
    const readOnly = shared.readOnly;
    status.setReadOnly(readOnly);
    if (editor.isEditable === readOnly) editor.setEditable(!readOnly);
  };
  shared.on("error", (error: TandemError) => {
    console.warn(`[tandem] ${error.code}: ${error.message}`);
    if (error.code !== "unauthorized" || refused) return;
    refused = true;
    const notice = createAuthNotice({
      documentName: details.name,
      hadToken: details.hadToken,
      reason: refusalReason(error.message),
      onToken: (token) => {
        saveToken(token);
        window.location.reload();
      },
    });
    page.classList.add("page--locked");
    page.prepend(notice);
    apply();
  });
  shared.on("status", apply);
  return {
    attach(value) {
      editor = value;
      apply();
    },
  };
}

/** Copies the document's address (never the token) so others can join. */
function shareButton(name: string): HTMLElement {
  const label = h("span", {}, "Share");
  const button = h(
    "button",
    {
      type: "button",
      class: "button button--ghost share",
      "data-testid": "share",
      title: "Copy a link to this document",
    },
    icon("share"),
    label,
  );
  button.addEventListener("click", async () => {
    const url = new URL(documentPath(name), window.location.origin).href;
    try {
      await navigator.clipboard.writeText(url);
      label.textContent = "Link copied";
    } catch {
      // No clipboard (an insecure context): show the link so it can be copied by hand.
      window.prompt("Copy this link:", url);
      return;
    }
    setTimeout(() => {
      label.textContent = "Share";
    }, 2000);
  });
  return button;
}
