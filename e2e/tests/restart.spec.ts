import {
  documentText,
  expectSameText,
  expectSaved,
  placeCaret,
  typeText,
} from "../support/editor.ts";
import { expect, type Person, test } from "../support/fixtures.ts";

/** Records every connection state the page's indicator shows, from now on. */
async function recordStates(person: Person): Promise<() => Promise<string[]>> {
  await person.status.evaluate((status) => {
    const seen: string[] = [status.getAttribute("data-state") ?? ""];
    new MutationObserver(() => {
      const state = status.getAttribute("data-state") ?? "";
      if (seen[seen.length - 1] !== state) seen.push(state);
    }).observe(status, { attributes: true, attributeFilter: ["data-state"] });
    (window as unknown as { seenStates: string[] }).seenStates = seen;
  });
  return () =>
    person.page.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates);
}

const words = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${i + 1} `).join("");

test("both reconnect by themselves after a server restart mid-typing, and nothing is lost", async ({
  people,
  server,
}) => {
  const alice = await people.join("Alice", "restart");
  const bob = await people.join("Bob", "restart");
  await typeText(alice, "Middle. ");
  await expect.poll(() => documentText(bob.page)).toBe("Middle. ");
  await placeCaret(bob.page, "Middle", { offset: 0 });
  const aliceStates = await recordStates(alice);
  const bobStates = await recordStates(bob);

  // Both type about five seconds; the server restarts (SIGTERM, then the same port and data)
  // once they are well under way.
  const aliceWords = words("a", 30);
  const bobWords = words("b", 30);
  const typing = Promise.all([typeText(alice, aliceWords, 35), typeText(bob, bobWords, 35)]);
  await expect.poll(() => documentText(alice.page)).toContain("a5 ");
  await server.restart("SIGTERM");
  await typing;

  await expectSaved(alice);
  await expectSaved(bob);
  expect(await expectSameText([alice, bob])).toBe(`${bobWords}Middle. ${aliceWords}`);
  expect(await aliceStates()).toContain("reconnecting");
  expect(await bobStates()).toContain("reconnecting");

  // What the server acknowledged is on its disk: a newcomer after another restart sees it all.
  await server.restart("SIGTERM");
  const carol = await people.join("Carol", "restart");
  await expect.poll(() => documentText(carol.page)).toBe(`${bobWords}Middle. ${aliceWords}`);
});
