import { actionDialog } from "./dialog.ts";

/**
 * Confirms a restore and runs it. Says what happens to the text now (saved as a version first,
 * so the restore can be undone) and to others' edits (they keep theirs).
 */
export function confirmRestore(
  versionName: string,
  restore: () => Promise<void>,
): Promise<boolean> {
  return actionDialog({
    title: "Restore this version?",
    text:
      `The document goes back to ${versionName} for everyone editing it. The current text is ` +
      "saved first as a version named “Before restoring …”, so you can undo this by restoring " +
      "that one; edits others make meanwhile are kept.",
    confirm: "Restore",
    busy: "Restoring…",
    testId: "restore-dialog",
    action: restore,
  });
}
