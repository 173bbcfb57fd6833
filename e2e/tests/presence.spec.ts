import { typeText } from "../support/editor.ts";
import { expect, test } from "../support/fixtures.ts";

test("who is here, who is typing, and who left", async ({ people }) => {
  const alice = await people.join("Alice", "presence");
  const bob = await people.join("Bob", "presence");

  await expect(alice.page.getByTestId("me")).toContainText("Alice");
  await expect(alice.peers).toHaveCount(1);
  const bobEntry = alice.peers.first();
  await expect(bobEntry).toHaveAttribute("data-peer-name", "Bob");
  await expect(bobEntry).toHaveAttribute("data-state", "active");
  await expect(alice.typingIndicator).toBeHidden();

  // While Bob types, Alice sees it; two seconds after his last key, she no longer does.
  const typing = typeText(bob, "Bob is writing a sentence.", 60);
  await expect(alice.typingIndicator).toBeVisible();
  await expect(alice.typingIndicator).toHaveText("Bob is typing…");
  await expect(bobEntry).toHaveAttribute("data-state", "typing");
  await typing;
  await expect(alice.typingIndicator).toBeHidden();
  await expect(bobEntry).toHaveAttribute("data-state", "active");

  // Closing the tab tells the server at once; Bob leaves Alice's list without waiting for the
  // 30-second awareness timeout.
  await bob.page.close();
  await expect(alice.peers).toHaveCount(0, { timeout: 3_000 });
  await expect(alice.page.getByTestId("people-count")).toHaveText("1");
});

test("someone whose network silently dies leaves the list after the awareness timeout", async ({
  people,
}) => {
  test.setTimeout(90_000);
  const alice = await people.join("Alice", "presence-timeout");
  const bob = await people.join("Bob", "presence-timeout", { network: true });
  await expect(alice.peers).toHaveCount(1);
  await expect(alice.peers.first()).toHaveAttribute("data-peer-name", "Bob");

  // Nothing tells the server or Alice that Bob is gone: his socket just stops carrying anything.
  const silentSince = Date.now();
  bob.network?.goSilent();
  // Yjs awareness drops a peer that has not renewed its state for 30 seconds.
  await expect(alice.peers).toHaveCount(0, { timeout: 60_000 });
  // Not at once, which would mean something closed the connection: only the timeout noticed.
  expect(Date.now() - silentSince).toBeGreaterThan(20_000);
  await expect(alice.page.getByTestId("people-count")).toHaveText("1");
});
