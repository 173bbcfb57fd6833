import { fileURLToPath } from "node:url";
import { expectSameText, placeCaret, selectText, typeText } from "../support/editor.ts";
import { expect, test } from "../support/fixtures.ts";

const TARGET = fileURLToPath(new URL("../../docs/editor-screenshot.png", import.meta.url));

/**
 * Not part of the test suite (its own Playwright config): writes the README's screenshot,
 * docs/editor-screenshot.png, of three people in one document as Alice sees it: Bob's caret and
 * Carol's selection with their names, Bob typing. Run it with `pnpm --filter @tandem/e2e screenshot`.
 */
test("README screenshot", async ({ people }) => {
  const look = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 2 };
  const alice = await people.join("Alice", "launch-plan", { ...look, color: "#4f46e5" });
  const bob = await people.join("Bob", "launch-plan", { ...look, color: "#db2777" });
  const carol = await people.join("Carol", "launch-plan", { ...look, color: "#0d9488" });

  // Markdown shortcuts, as a person would type them.
  for (const line of [
    "# Launch plan",
    "Tandem ships on Friday. This page collects what is left to do: edit freely, everyone sees changes as they type, online or offline.",
    "## Checklist",
    "[x] Offline editing: service worker and IndexedDB",
    "Presence: carets, names, who is typing",
    "Release notes and a short demo video",
    "", // an empty item ends the list
    "## Notes",
  ]) {
    await typeText(alice, line, 2);
    await alice.page.keyboard.press("Enter");
  }
  await typeText(
    alice,
    "> Nothing the server acknowledged is ever lost, even when it restarts.",
    2,
  );
  await expectSameText([alice, bob, carol]);

  await selectText(carol.page, "names, who is typing");
  await placeCaret(bob.page, "everyone sees changes as they type");
  await typeText(bob, " (and who is where)", 40);
  await expect(alice.page.locator('[data-testid="caret"][data-user="Bob"]')).toBeVisible();
  await expect(alice.page.locator('[data-testid="caret"][data-user="Carol"]')).toBeVisible();
  const typing = typeText(bob, ", which", 300);
  await expect(alice.typingIndicator).toHaveText("Bob is typing…");
  await alice.page.screenshot({ path: TARGET });
  await typing;
});
