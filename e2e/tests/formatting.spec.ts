import { expectSameText, expectSaved, selectText, typeText } from "../support/editor.ts";
import { expect, test } from "../support/fixtures.ts";

test("the toolbar and shortcuts format text, and the other person sees the same structure", async ({
  people,
}) => {
  const alice = await people.join("Alice", "formatting");
  const bob = await people.join("Bob", "formatting");
  const { page } = alice;
  const tool = (id: string) => page.getByTestId(`tool-${id}`);
  const newBlock = () => page.keyboard.press("Enter");

  await tool("h2").click();
  await typeText(alice, "Styles");
  await expect(tool("h2")).toHaveAttribute("aria-pressed", "true");
  await newBlock();
  await typeText(alice, "plain ");
  await tool("italic").click();
  await typeText(alice, "italic");
  await tool("italic").click();
  await typeText(alice, " ");
  await page.keyboard.press("Control+Shift+s");
  await typeText(alice, "struck");
  await page.keyboard.press("Control+Shift+s");
  await typeText(alice, " ");
  await page.keyboard.press("Control+e");
  await typeText(alice, "code()");
  await page.keyboard.press("Control+e");
  await typeText(alice, " and a link");
  await newBlock();
  await tool("ordered-list").click();
  await typeText(alice, "first");
  await newBlock();
  await typeText(alice, "second");
  await newBlock();
  await newBlock();
  await tool("task-list").click();
  await typeText(alice, "a task");
  await newBlock();
  await newBlock();
  await tool("blockquote").click();
  await typeText(alice, "quoted");
  await newBlock();
  await newBlock();
  await tool("code-block").click();
  await typeText(alice, "const x = 1;");

  await selectText(page, "a link");
  await page.keyboard.press("Control+k");
  await page.getByTestId("link-input").fill("example.com/docs");
  await page.getByTestId("link-input").press("Enter");

  await expectSameText([alice, bob]);
  const editor = bob.editor;
  await expect(editor.locator("h2")).toHaveText("Styles");
  await expect(editor.locator("em")).toHaveText("italic");
  await expect(editor.locator("s")).toHaveText("struck");
  await expect(editor.locator("p code")).toHaveText("code()");
  await expect(editor.locator("a")).toHaveText("a link");
  await expect(editor.locator("a")).toHaveAttribute("href", "https://example.com/docs");
  await expect(editor.locator("ol > li")).toHaveText(["first", "second"]);
  await expect(editor.locator('ul[data-type="taskList"] li > div')).toHaveText("a task");
  await expect(editor.locator("blockquote")).toHaveText("quoted");
  await expect(editor.locator("pre code")).toHaveText("const x = 1;");

  // Bob ticks Alice's task; she sees it ticked.
  await bob.editor.locator('ul[data-type="taskList"] input[type="checkbox"]').check();
  await expect(alice.editor.locator('ul[data-type="taskList"] li')).toHaveAttribute(
    "data-checked",
    "true",
  );
  await expectSaved(alice);
  await expectSaved(bob);
});
