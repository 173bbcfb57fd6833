import { expect, type Locator, type Page } from "@playwright/test";
import { blocksText } from "./editor.ts";
import type { Person } from "./fixtures.ts";

/**
 * The version history panel, used the way a person does: the History button, the list of
 * versions (found by their title: a name, or a time), a version's Preview and Compare tabs, and
 * the dialogs to name and restore.
 */

export function historyPanel(page: Page): Locator {
  return page.getByTestId("history-panel");
}

export async function openHistory(person: Person): Promise<Locator> {
  const panel = historyPanel(person.page);
  if (!(await panel.isVisible())) await person.page.getByTestId("history-toggle").click();
  await expect(panel).toBeVisible();
  await expect(person.page.getByTestId("history-toggle")).toHaveAttribute("aria-expanded", "true");
  return panel;
}

/** Every entry of the list, newest first. */
export function versionEntries(page: Page): Locator {
  return page.getByTestId("version");
}

/** The entries whose title (a version's name, or its time) matches. */
export function versionTitled(page: Page, title: string | RegExp): Locator {
  return versionEntries(page).filter({
    has: page.locator(".version__title").getByText(title, { exact: typeof title === "string" }),
  });
}

/** Opens an entry of the list; the view shows its preview first. */
export async function openVersion(page: Page, entry: Locator): Promise<void> {
  await entry.getByTestId("version-open").click();
  await expect(page.getByTestId("version-view")).toBeVisible();
  await expect(page.getByTestId("version-doc")).toBeVisible();
}

export async function backToList(page: Page): Promise<void> {
  await page.getByTestId("history-back").click();
  await expect(page.getByTestId("version-list")).toBeVisible();
}

/** The text of the version on view (preview or comparison), one line per block. */
export function viewerText(page: Page): Promise<string> {
  return blocksText(page.getByTestId("version-doc"));
}

/** Names the current version through the dialog and waits for it at the top of the list. */
export async function nameCurrentVersion(page: Page, label: string): Promise<void> {
  await page.getByTestId("history-name").click();
  const dialog = page.getByRole("dialog", { name: "Name the current version" });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("textbox", { name: "Version name" }).fill(label);
  await dialog.getByRole("button", { name: "Save name" }).click();
  await expect(dialog).toBeHidden();
  await expect(versionEntries(page).first().locator(".version__title")).toHaveText(label);
  await expect(versionEntries(page).first()).toHaveAttribute("data-kind", "named");
}

/** Restores the version on view, confirming in the dialog, and waits for the list again. */
export async function restoreOpenVersion(page: Page): Promise<void> {
  await page.getByTestId("version-restore").click();
  const dialog = page.getByRole("dialog", { name: "Restore this version?" });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Restore", exact: true }).click();
  await expect(dialog).toBeHidden({ timeout: 20_000 });
  await expect(page.getByTestId("history-message")).toContainText("Restored");
}

/** Inserted (kind "added") and removed spans in the comparison on view. */
export function insertions(page: Page, author?: string): Locator {
  const doc = page.getByTestId("version-doc");
  return author
    ? doc.locator(`ins[data-change="added"][data-author="${author}"]`)
    : doc.locator('ins[data-change="added"]');
}

export function deletions(page: Page): Locator {
  return page.getByTestId("version-doc").locator('del[data-change="removed"]');
}
