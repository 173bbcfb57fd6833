import { h } from "../dom.ts";

/** The reasons the server gives for refusing a token (see the server README, "Security"). */
const REASONS = [
  "token-missing",
  "token-malformed",
  "token-signature-invalid",
  "token-expired",
  "token-claims-invalid",
  "no-access",
] as const;
type Reason = (typeof REASONS)[number];

/** Picks the server's reason out of the SDK's error message. */
export function refusalReason(message: string): Reason | null {
  return REASONS.find((reason) => message.includes(reason)) ?? null;
}

const MINT_COMMAND =
  "TANDEM_JWT_SECRET=… pnpm tandem token --sub you --name \"Your Name\" --doc '**=write' --ttl 8h";

/**
 * What the editor shows when the server refuses access. A server started with `--auth jwt`
 * needs a token for every document: this says so, shows how to mint one, and takes one pasted
 * in (kept for this tab, like `?token=`).
 */
export function createAuthNotice(options: {
  documentName: string;
  hadToken: boolean;
  reason: Reason | null;
  onToken(token: string): void;
}): HTMLElement {
  const { title, text } = explain(options);
  const input = h("input", {
    type: "text",
    class: "notice__input",
    placeholder: "Paste a token",
    "aria-label": "Token",
    autocomplete: "off",
    spellcheck: "false",
    "data-testid": "token-input",
  });
  const form = h(
    "form",
    { class: "notice__form" },
    input,
    h("button", { type: "submit", class: "button button--primary" }, "Use this token"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token) options.onToken(token);
  });
  return h(
    "section",
    { class: "notice", role: "alert", "data-testid": "auth-required" },
    h("h2", { class: "notice__title" }, title),
    h("p", {}, text),
    h(
      "p",
      {},
      "Ask whoever runs this server for a link that ends in ",
      h("code", {}, "?token=…"),
      ", or, on the server, mint a token with the same secret the server uses:",
    ),
    h("pre", { class: "notice__command" }, h("code", {}, MINT_COMMAND)),
    h(
      "p",
      {},
      "Then add ",
      h("code", {}, "?token=<token>"),
      " to this page's address, or paste it here:",
    ),
    form,
  );
}

function explain(options: { documentName: string; hadToken: boolean; reason: Reason | null }): {
  title: string;
  text: string;
} {
  if (!options.hadToken || options.reason === "token-missing") {
    return {
      title: "A token is required",
      text: "This Tandem server only opens documents for people with a token (it runs with --auth jwt).",
    };
  }
  switch (options.reason) {
    case "token-expired":
      return { title: "Your token has expired", text: "Tokens are short-lived: get a fresh one." };
    case "no-access":
      return {
        title: "No access to this document",
        text: `Your token does not grant access to “${options.documentName}”.`,
      };
    default:
      return {
        title: "The server refused your token",
        text: `The token is not valid for this server${options.reason ? ` (${options.reason})` : ""}.`,
      };
  }
}
