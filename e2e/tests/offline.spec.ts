import {
  documentText,
  expectSameText,
  expectSaved,
  placeCaret,
  selectText,
  typeText,
} from "../support/editor.ts";
import { expect, type Person, test } from "../support/fixtures.ts";

const SEED = "The quick brown fox jumps over the lazy dog.";
/** Alice types "red and " right before "brown"; Bob deletes "brown ". Both survive the merge. */
const MERGED = "The quick red and fox jumps over the lazy dog.";

async function seed(alice: Person, bob: Person): Promise<void> {
  await typeText(alice, SEED);
  await expectSaved(alice);
  await expect.poll(() => documentText(bob.page)).toBe(SEED);
  // The app shell is cached: the page can now be reloaded without a network.
  await expect(alice.page.getByTestId("offline-ready")).toBeVisible();
}

async function deleteBrown(bob: Person): Promise<void> {
  await selectText(bob.page, "brown ");
  await bob.page.keyboard.press("Backspace");
}

test("edits made offline merge with a deletion next to them when the network is back", async ({
  people,
}) => {
  const alice = await people.join("Alice", "offline-merge", { network: true });
  const bob = await people.join("Bob", "offline-merge");
  await seed(alice, bob);

  await alice.network?.goOffline();
  await expect(alice.status).toHaveAttribute("data-state", "offline");
  await placeCaret(alice.page, "The quick ");
  await typeText(alice, "red and ");
  await expect(alice.saveState).toHaveText("8 unsaved changes (offline)");

  await deleteBrown(bob);
  await expectSaved(bob);
  expect(await documentText(bob.page)).toBe("The quick fox jumps over the lazy dog.");
  expect(await documentText(alice.page)).toBe(
    "The quick red and brown fox jumps over the lazy dog.",
  );

  await alice.network?.goOnline();
  await expectSaved(alice);
  await expectSaved(bob);
  expect(await expectSameText([alice, bob])).toBe(MERGED);
});

test("edits made while the server is down merge when it is back, even across a reload", async ({
  people,
  server,
}) => {
  const alice = await people.join("Alice", "server-down-merge");
  const bob = await people.join("Bob", "server-down-merge");
  await seed(alice, bob);

  await server.stop();
  for (const person of [alice, bob]) {
    await expect(person.status).not.toHaveAttribute("data-state", "connected");
  }
  await placeCaret(alice.page, "The quick ");
  await typeText(alice, "red and ");
  await deleteBrown(bob);
  await expect(alice.saveState).toHaveText(/^8 unsaved changes/);
  await expect(bob.status).toHaveAttribute("data-saved", "false");

  // With the server down the page itself comes from the service worker, the text from IndexedDB.
  await alice.page.reload();
  await expect(alice.editor).toBeVisible();
  await expect
    .poll(() => documentText(alice.page))
    .toBe("The quick red and brown fox jumps over the lazy dog.");
  await expect(alice.status).toHaveAttribute("data-saved", "false");

  await server.start();
  await expectSaved(alice);
  await expectSaved(bob);
  expect(await expectSameText([alice, bob])).toBe(MERGED);
});

test("a page reloaded offline opens with its offline edits and keeps new ones", async ({
  people,
}) => {
  const alice = await people.join("Alice", "offline-reload", { network: true });
  const bob = await people.join("Bob", "offline-reload");
  await seed(alice, bob);

  await alice.network?.goOffline();
  await expect(alice.status).toHaveAttribute("data-state", "offline");
  await placeCaret(alice.page, SEED);
  await typeText(alice, " Written offline.");
  await expect(alice.status).toHaveAttribute("data-saved", "false");

  await alice.page.reload();
  await expect(alice.editor).toBeVisible();
  await expect.poll(() => documentText(alice.page)).toBe(`${SEED} Written offline.`);
  await expect(alice.status).toHaveAttribute("data-state", "offline");
  await expect(alice.saveState).toHaveText("Unsaved changes (offline)");

  await placeCaret(alice.page, "Written offline.");
  await typeText(alice, " And after the reload.");
  // Bob, online all along, has seen none of it.
  expect(await documentText(bob.page)).toBe(SEED);

  await alice.network?.goOnline();
  await expectSaved(alice);
  await expect
    .poll(() => documentText(bob.page))
    .toBe(`${SEED} Written offline. And after the reload.`);
  await expectSameText([alice, bob]);
});
