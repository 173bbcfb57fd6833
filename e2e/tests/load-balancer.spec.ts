import { readFileSync } from "node:fs";
import {
  documentText,
  expectSameText,
  expectSaved,
  placeCaret,
  typeText,
} from "../support/editor.ts";
import { test as base, expect, People } from "../support/fixtures.ts";
import {
  BalancedCluster,
  type Instance,
  PERSON_COOKIE,
  SITE_CONFIG,
} from "../support/load-balancer.ts";

/**
 * Three instances in cluster mode (Redis + PostgreSQL) behind a real nginx with the README's
 * configuration: round-robin, no sticky sessions. People open the editor on nginx's address;
 * their sockets land on different instances, and the co-editing flow works as on one server.
 */

let cluster: BalancedCluster;

const test = base.extend<{ people: People }>({
  people: async ({ browser }, use, testInfo) => {
    const people = new People(browser, cluster);
    await use(people);
    await people.report(testInfo);
  },
});

test.beforeAll(async () => {
  cluster = await BalancedCluster.start();
});
test.afterEach(async () => {
  // A test that killed an instance leaves the cluster whole for the next (same port).
  for (const instance of cluster?.instances ?? []) if (!instance.running) await instance.start();
});
test.afterAll(async () => {
  await cluster?.stop();
});

/**
 * Opens the document through nginx and waits for the socket; returns the person, the instance
 * their socket landed on (the one with a new open connection), and the tag nginx's access log
 * names their sockets with (unique in the file: each test has its own document).
 */
async function join(people: People, name: string, document: string) {
  const before = cluster.openConnections();
  const tag = `${name}@${document}`;
  const person = await people.join(name, document, { cookies: { [PERSON_COOKIE]: tag } });
  await expect(person.status).toHaveAttribute("data-state", "connected");
  let instance: Instance | undefined;
  await expect
    .poll(
      () => {
        const after = cluster.openConnections();
        const gained = cluster.instances.filter(
          (i) => (after[i.name] ?? 0) === (before[i.name] ?? 0) + 1,
        );
        const total = (counts: Record<string, number>) =>
          Object.values(counts).reduce((sum, n) => sum + n, 0);
        instance = total(after) === total(before) + 1 ? gained[0] : undefined;
        return instance?.name;
      },
      { message: `${name}'s socket is open on one instance` },
    )
    .toBeDefined();
  return { person, instance: instance as Instance, tag };
}

/**
 * The person's sockets that nginx has finished with (it logs a socket once it closes), oldest
 * first, as the upstreams nginx tried for each; waits until there are at least `count`.
 */
async function socketsInAccessLog(tag: string, count: number): Promise<string[][]> {
  await expect
    .poll(() => cluster.nginx.socketsOf(tag).length, {
      message: `nginx logged ${count} socket(s) of ${tag}`,
    })
    .toBeGreaterThanOrEqual(count);
  return cluster.nginx.socketsOf(tag).map((entry) => {
    expect(entry.status, `${tag}'s socket upgraded through nginx`).toBe(101);
    return entry.upstreams;
  });
}

const characters = (text: string) => Array.from(text).sort().join("");
const words = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${i + 1} `).join("");

test("the README shows the nginx configuration these tests run", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  expect(readme).toContain(readFileSync(SITE_CONFIG, "utf8"));
});

test("two people on different instances behind nginx co-edit one paragraph and see each other", async ({
  people,
}) => {
  const {
    person: alice,
    instance: aliceInstance,
    tag: aliceTag,
  } = await join(people, "Alice", "lb-co-editing");
  const {
    person: bob,
    instance: bobInstance,
    tag: bobTag,
  } = await join(people, "Bob", "lb-co-editing");
  expect(bobInstance.name).not.toBe(aliceInstance.name);

  await typeText(alice, "Shared paragraph. ");
  await expect.poll(() => documentText(bob.page)).toBe("Shared paragraph. ");

  // Alice types at the end of the paragraph while Bob types at its start.
  await placeCaret(bob.page, "Shared", { offset: 0 });
  const aliceWords = "apple banana cherry damson elderberry fig grape ";
  const bobWords = "one two three four five six seven eight ";
  await Promise.all([typeText(alice, aliceWords, 25), typeText(bob, bobWords, 25)]);
  expect(await expectSameText([alice, bob])).toBe(`${bobWords}Shared paragraph. ${aliceWords}`);

  // Both at the very same place: the runs may interleave, but no keystroke is lost.
  await placeCaret(bob.page, aliceWords);
  const aliceMore = "ALICE-TYPES-HERE ";
  const bobMore = "bob-types-here-too ";
  await Promise.all([typeText(alice, aliceMore, 25), typeText(bob, bobMore, 25)]);
  const text = await expectSameText([alice, bob]);
  const head = `${bobWords}Shared paragraph. ${aliceWords}`;
  expect(text.startsWith(head)).toBe(true);
  expect(characters(text.slice(head.length))).toBe(characters(aliceMore + bobMore));

  // Presence crosses instances: each lists the other and sees their named caret.
  await expect(alice.peers).toHaveCount(1);
  await expect(alice.peers.first()).toHaveAttribute("data-peer-name", "Bob");
  await expect(bob.peers).toHaveCount(1);
  await expect(bob.peers.first()).toHaveAttribute("data-peer-name", "Alice");
  const aliceCaret = bob.page.locator('[data-testid="caret"][data-user="Alice"]');
  const bobCaret = alice.page.locator('[data-testid="caret"][data-user="Bob"]');
  await expect(aliceCaret).toBeVisible();
  await expect(aliceCaret).toHaveText("Alice");
  await expect(bobCaret).toBeVisible();
  await expect(bobCaret).toHaveText("Bob");

  await expectSaved(alice);
  await expectSaved(bob);

  // nginx's own record, once the sockets are closed: one socket each, on those two instances.
  await people.leaveAll();
  expect(await socketsInAccessLog(aliceTag, 1)).toEqual([[aliceInstance.address]]);
  expect(await socketsInAccessLog(bobTag, 1)).toEqual([[bobInstance.address]]);
});

test("an instance killed mid-typing: its user reconnects through nginx to another one, nothing is lost", async ({
  people,
}) => {
  const {
    person: alice,
    instance: aliceInstance,
    tag: aliceTag,
  } = await join(people, "Alice", "lb-failover");
  const {
    person: bob,
    instance: bobInstance,
    tag: bobTag,
  } = await join(people, "Bob", "lb-failover");
  expect(bobInstance.name).not.toBe(aliceInstance.name);
  await typeText(alice, "Middle. ");
  await expect.poll(() => documentText(bob.page)).toBe("Middle. ");
  await placeCaret(bob.page, "Middle", { offset: 0 });

  // Both type for about four seconds; Alice's instance crashes once they are under way.
  const aliceWords = words("a", 25);
  const bobWords = words("b", 25);
  const typing = Promise.all([typeText(alice, aliceWords, 35), typeText(bob, bobWords, 35)]);
  await expect.poll(() => documentText(bob.page)).toContain("a5 ");
  await aliceInstance.kill();
  await typing;

  await expectSaved(alice);
  await expectSaved(bob);
  expect(await expectSameText([alice, bob])).toBe(`${bobWords}Middle. ${aliceWords}`);
  // Alice is back on a live instance; Bob never left his.
  await expect.poll(() => cluster.openConnections()[bobInstance.name]).toBeGreaterThanOrEqual(1);
  await expect
    .poll(() => Object.values(cluster.openConnections()).reduce((sum, n) => sum + n, 0))
    .toBe(2);
  // And they see each other again, once each.
  await expect(bob.peers).toHaveCount(1);
  await expect(bob.peers.first()).toHaveAttribute("data-peer-name", "Alice");
  await expect(bob.page.locator('[data-testid="caret"][data-user="Alice"]')).toBeVisible();
  await expect(alice.peers).toHaveCount(1);
  await expect(alice.page.locator('[data-testid="caret"][data-user="Bob"]')).toBeVisible();

  await people.leaveAll();
  const [first, ...later] = await socketsInAccessLog(aliceTag, 2);
  expect(first).toEqual([aliceInstance.address]);
  // Every later socket landed on a live instance; nginx may have tried the dead one first
  // (connection refused) and moved on within the same request.
  for (const upstreams of later) expect(upstreams.at(-1)).not.toBe(aliceInstance.address);
  expect(await socketsInAccessLog(bobTag, 1)).toEqual([[bobInstance.address]]);
});
