import {
  documentText,
  expectSameText,
  expectSaved,
  placeCaret,
  selectText,
  typeText,
} from "../support/editor.ts";
import { expect, test } from "../support/fixtures.ts";
import {
  backToList,
  deletions,
  insertions,
  nameCurrentVersion,
  openHistory,
  openVersion,
  restoreOpenVersion,
  versionEntries,
  versionTitled,
  viewerText,
} from "../support/history.ts";

// A short idle time, so automatic versions appear within a test (the default is a minute).
test.use({ serverOptions: { args: ["--version-idle", "1000"] } });

const ALICE_COLOR = "#e11d48";
const BOB_COLOR = "#2563eb";

test("versions: automatic and named, preview and compare, restore while someone types, undo the restore", async ({
  people,
  playwright,
  launchOptions,
}) => {
  // A long story (three people, two restores, a fresh browser): about two minutes on a busy
  // 2-core machine, so four minutes rather than the usual one.
  test.setTimeout(240_000);
  const alice = await people.join("Alice", "history", { color: ALICE_COLOR });
  const bob = await people.join("Bob", "history", { color: BOB_COLOR });

  // Two people edit.
  await typeText(alice, "Hello world.");
  await expect.poll(() => documentText(bob.page)).toBe("Hello world.");
  await placeCaret(bob.page, "Hello ");
  await typeText(bob, "brave ");
  expect(await expectSameText([alice, bob])).toBe("Hello brave world.");
  await expectSaved(alice);
  await expectSaved(bob);

  // A version appears once the document has been quiet for the idle time: the list shows it
  // with the avatars of who edited, and nothing is left pending ("Current version" goes away).
  const panel = await openHistory(alice);
  await expect(panel.getByTestId("version-list")).toHaveAttribute("aria-busy", "false");
  await expect(panel.getByTestId("version-pending")).toBeHidden({ timeout: 20_000 });
  await expect(versionEntries(alice.page).first()).toHaveAttribute("data-kind", "auto");
  for (const [name, color] of [
    ["Alice", ALICE_COLOR],
    ["Bob", BOB_COLOR],
  ] as const) {
    const avatar = panel.locator(`[data-testid="version-author"][data-author="${name}"]`).first();
    await expect(avatar).toBeVisible();
    await expect(avatar).toHaveAttribute("style", new RegExp(`--avatar: ${color}`));
  }

  // The newest version holds everything written so far: its preview is read-only.
  await openVersion(alice.page, versionEntries(alice.page).first());
  await expect(alice.page.getByTestId("version-view")).toHaveAttribute("data-mode", "preview");
  await expect.poll(() => viewerText(alice.page)).toBe("Hello brave world.");
  await expect(alice.page.getByTestId("version-doc")).toHaveAttribute("contenteditable", "false");
  await backToList(alice.page);

  // Alice names the current version.
  await nameCurrentVersion(alice.page, "First draft");

  // Bob replaces a word and adds a paragraph.
  await selectText(bob.page, "world");
  await typeText(bob, "team");
  await placeCaret(bob.page, "team.");
  await bob.page.keyboard.press("Enter");
  await typeText(bob, "A paragraph by Bob.");
  expect(await expectSameText([alice, bob])).toBe("Hello brave team.\nA paragraph by Bob.");
  await expectSaved(bob);

  // Compare "First draft" with the current document: Bob's insertions in Bob's colour, the
  // replaced word struck out, and counts that add up.
  await openVersion(alice.page, versionTitled(alice.page, "First draft"));
  await expect.poll(() => viewerText(alice.page)).toBe("Hello brave world.");
  await alice.page.getByTestId("version-tab-compare").click();
  await expect(alice.page.getByTestId("version-view")).toHaveAttribute("data-mode", "compare");
  await expect(insertions(alice.page, "Bob")).toHaveText(["team", "A paragraph by Bob."]);
  await expect(insertions(alice.page)).toHaveCount(2);
  await expect(insertions(alice.page, "Bob").first()).toHaveAttribute(
    "style",
    new RegExp(`--change: ${BOB_COLOR}`),
  );
  await expect(deletions(alice.page)).toHaveText(["world"]);
  await expect(alice.page.getByTestId("version-doc").locator('p[data-diff="added"]')).toHaveText(
    "A paragraph by Bob.",
  );
  expect(await viewerText(alice.page)).toBe("Hello brave worldteam.\nA paragraph by Bob.");
  await expect(alice.page.getByTestId("compare-counts")).toHaveText(
    "5 words added, 1 word removed",
  );
  await expect(alice.page.getByTestId("compare-summary")).toContainText("Added by Bob");

  // The comparison follows the live document.
  await placeCaret(bob.page, "A paragraph by Bob.");
  await typeText(bob, " More.");
  await expect(insertions(alice.page, "Bob")).toHaveText(["team", "A paragraph by Bob. More."]);
  await expectSaved(bob);

  // Alice restores "First draft" while Bob keeps typing at the end of his paragraph. Bob's
  // keystrokes then land wherever his caret is when the restore reaches him (or in the
  // paragraph the restore removes): typed as "z", they are told apart from the rest.
  const beforeRestore = await expectSameText([alice, bob]);
  const bobTyping = typeText(bob, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 40);
  await restoreOpenVersion(alice.page);
  await bobTyping;
  await expect.poll(() => documentText(bob.page)).not.toContain("team");
  await placeCaret(bob.page, "world.");
  await typeText(bob, " Later.");
  const restored = await expectSameText([alice, bob]);
  const withoutZ = restored
    .replace(/z/g, "")
    .split("\n")
    .filter((line) => line !== "");
  expect(withoutZ).toEqual(["Hello brave world. Later."]);
  await expectSaved(alice);
  await expectSaved(bob);

  // The state before the restore is a version: "Before restoring First draft".
  const undo = versionTitled(alice.page, "Before restoring First draft");
  await expect(undo).toHaveCount(1);
  await expect(undo).toHaveAttribute("data-kind", "restore");
  await openVersion(alice.page, undo);
  await expect.poll(() => viewerText(alice.page)).toContain("Hello brave team.");
  const undoneText = await viewerText(alice.page);
  expect(undoneText.replace(/z/g, "")).toBe(beforeRestore);

  // Alice undoes the restore by restoring that version: both end with its text.
  await restoreOpenVersion(alice.page);
  await expect.poll(() => documentText(alice.page)).toBe(undoneText);
  expect(await expectSameText([alice, bob])).toBe(undoneText);
  await expectSaved(alice);
  await expectSaved(bob);
  await expect(
    versionTitled(alice.page, "Before restoring Before restoring First draft"),
  ).toHaveCount(1);

  // A fresh browser sees the same document and the same versions.
  const fresh = await playwright.chromium.launch(launchOptions);
  try {
    const carol = await people.join("Carol", "history", { browser: fresh });
    await expect.poll(() => documentText(carol.page)).toBe(undoneText);
    await openHistory(carol);
    // The same list as Alice's (automatic versions may still arrive: both lists refresh).
    const titles = (page: typeof alice.page) =>
      versionEntries(page).locator(".version__title").allTextContents();
    await expect
      .poll(async () => {
        const [seen, expected] = await Promise.all([titles(carol.page), titles(alice.page)]);
        return JSON.stringify(seen) === JSON.stringify(expected) ? seen : [];
      })
      .toEqual(
        expect.arrayContaining([
          "First draft",
          "Before restoring First draft",
          "Before restoring Before restoring First draft",
        ]),
      );
    await openVersion(carol.page, versionTitled(carol.page, "First draft"));
    await expect.poll(() => viewerText(carol.page)).toBe("Hello brave world.");
    await carol.page.getByTestId("version-tab-compare").click();
    await expect(deletions(carol.page)).toHaveText(["world"]);
    await expect(insertions(carol.page).first()).toHaveText("team");
  } finally {
    await people.leaveAll();
    await fresh.close();
  }
});

test("on a narrow screen the history is a full-width sheet that works", async ({ people }) => {
  const viewport = { width: 390, height: 760 };
  const ada = await people.join("Ada", "history-narrow", { viewport });
  await typeText(ada, "Written on a phone.");
  await expectSaved(ada);

  const panel = await openHistory(ada);
  const box = await panel.boundingBox();
  expect(box?.x).toBe(0);
  expect(box?.width).toBe(viewport.width);

  await nameCurrentVersion(ada.page, "Phone draft");
  await openVersion(ada.page, versionTitled(ada.page, "Phone draft"));
  await expect.poll(() => viewerText(ada.page)).toBe("Written on a phone.");
  await expect(ada.page.getByTestId("version-restore")).toBeInViewport();
  const widest = await ada.page.evaluate(() => document.documentElement.scrollWidth);
  expect(widest).toBeLessThanOrEqual(viewport.width);

  // Escape goes back to the list, then closes the panel and gives the focus back.
  await ada.page.keyboard.press("Escape");
  await expect(ada.page.getByTestId("version-list")).toBeVisible();
  await ada.page.keyboard.press("Escape");
  await expect(panel).toBeHidden();
  await expect(ada.editor).toBeVisible();
});
