import {
  documentText,
  expectSameText,
  expectSaved,
  placeCaret,
  typeText,
} from "../support/editor.ts";
import { expect, test } from "../support/fixtures.ts";

test("after every browser closes, a fresh browser opens the final content with its formatting", async ({
  people,
  server,
  playwright,
  launchOptions,
}) => {
  const alice = await people.join("Alice", "persistence");
  const bob = await people.join("Bob", "persistence");

  // Alice: a heading (toolbar), a paragraph with a bold word (shortcut), a bulleted list
  // (Markdown shortcut).
  await alice.page.getByTestId("tool-h1").click();
  await typeText(alice, "Meeting notes");
  await alice.page.keyboard.press("Enter");
  await typeText(alice, "We ");
  await alice.page.keyboard.press("Control+b");
  await typeText(alice, "agreed");
  await alice.page.keyboard.press("Control+b");
  await typeText(alice, " on three things.");
  await alice.page.keyboard.press("Enter");
  await typeText(alice, "- ship the editor");
  await alice.page.keyboard.press("Enter");
  await typeText(alice, "test it offline");
  await expect.poll(() => documentText(bob.page)).toContain("test it offline");

  // Bob: italics in the heading, and a third list item.
  await placeCaret(bob.page, "test it offline");
  await bob.page.keyboard.press("Enter");
  await bob.page.keyboard.press("Control+i");
  await typeText(bob, "celebrate");
  await placeCaret(bob.page, "Meeting notes");
  await typeText(bob, " (draft)");

  const final = await expectSameText([alice, bob]);
  expect(final).toBe(
    "Meeting notes (draft)\nWe agreed on three things.\nship the editortest it offlinecelebrate",
  );
  await expectSaved(alice);
  await expectSaved(bob);

  // Every browser window closes, the server restarts, and someone opens the document in a
  // browser that has never seen it (no offline cache).
  await people.leaveAll();
  await server.restart();
  const fresh = await playwright.chromium.launch(launchOptions);
  try {
    const carol = await people.join("Carol", "persistence", { browser: fresh });
    await expect.poll(() => documentText(carol.page)).toBe(final);
    await expect(carol.editor.locator("h1")).toHaveText("Meeting notes (draft)");
    await expect(carol.editor.locator("strong")).toHaveText("agreed");
    await expect(carol.editor.locator("ul > li")).toHaveText([
      "ship the editor",
      "test it offline",
      "celebrate",
    ]);
    await expect(carol.editor.locator("ul > li em")).toHaveText("celebrate");
    await expectSaved(carol);
  } finally {
    await people.leaveAll();
    await fresh.close();
  }
});
