import {
  documentText,
  expectSameText,
  expectSaved,
  placeCaret,
  typeText,
} from "../support/editor.ts";
import { expect, test } from "../support/fixtures.ts";

/** The characters of a text, sorted: equal for two texts with the same characters in any order. */
const characters = (text: string) => Array.from(text).sort().join("");

test("two people typing in one paragraph at once end with the same text and see each other's carets", async ({
  people,
}) => {
  const alice = await people.join("Alice", "co-editing");
  const bob = await people.join("Bob", "co-editing");
  await typeText(alice, "Shared paragraph. ");
  await expect.poll(() => documentText(bob.page)).toBe("Shared paragraph. ");

  // Alice types at the end of the paragraph while Bob types at its start.
  await placeCaret(bob.page, "Shared", { offset: 0 });
  const aliceWords = "apple banana cherry damson elderberry fig grape ";
  const bobWords = "one two three four five six seven eight ";
  await Promise.all([typeText(alice, aliceWords, 25), typeText(bob, bobWords, 25)]);
  expect(await expectSameText([alice, bob])).toBe(`${bobWords}Shared paragraph. ${aliceWords}`);

  // Now both at the very same place, the end: the runs may interleave, but no keystroke is lost.
  await placeCaret(bob.page, aliceWords);
  const aliceMore = "ALICE-TYPES-HERE ";
  const bobMore = "bob-types-here-too ";
  await Promise.all([typeText(alice, aliceMore, 25), typeText(bob, bobMore, 25)]);
  const text = await expectSameText([alice, bob]);
  expect(text.startsWith(`${bobWords}Shared paragraph. ${aliceWords}`)).toBe(true);
  const tail = text.slice(`${bobWords}Shared paragraph. ${aliceWords}`.length);
  expect(characters(tail)).toBe(characters(aliceMore + bobMore));

  // Each sees the other's caret, labelled with their name.
  const aliceCaret = bob.page.locator('[data-testid="caret"][data-user="Alice"]');
  const bobCaret = alice.page.locator('[data-testid="caret"][data-user="Bob"]');
  await expect(aliceCaret).toBeVisible();
  await expect(aliceCaret).toHaveText("Alice");
  await expect(bobCaret).toBeVisible();
  await expect(bobCaret).toHaveText("Bob");

  await expectSaved(alice);
  await expectSaved(bob);
});

test("undo takes back your own edits only", async ({ people }) => {
  const alice = await people.join("Alice", "undo");
  const bob = await people.join("Bob", "undo");
  await typeText(alice, "Alice wrote this.");
  await expect.poll(() => documentText(bob.page)).toBe("Alice wrote this.");
  await placeCaret(bob.page, "Alice wrote this.");
  await typeText(bob, " Bob added this.");
  await expectSameText([alice, bob]);

  // Alice's undo removes her sentence and leaves Bob's; her redo brings it back.
  await alice.editor.focus();
  await alice.page.keyboard.press("Control+z");
  await expect.poll(() => documentText(bob.page)).toBe(" Bob added this.");
  expect(await documentText(alice.page)).toBe(" Bob added this.");
  await alice.page.getByTestId("tool-redo").click();
  expect(await expectSameText([alice, bob])).toBe("Alice wrote this. Bob added this.");
  await expectSaved(alice);
  await expectSaved(bob);
});
