import type { TandemDocument } from "@tandem/provider";
import type { Editor } from "@tiptap/core";
import { isChangeOrigin } from "@tiptap/extension-collaboration";

/**
 * Publishes what others see of this person besides the caret: "typing" on every local edit
 * (the SDK turns it off after two quiet seconds) and "away" while the tab is hidden. Remote
 * edits (changes the Yjs binding applies) are not typing.
 */
export function trackActivity(editor: Editor, document: TandemDocument): void {
  editor.on("update", ({ transaction }) => {
    if (!isChangeOrigin(transaction)) document.setTyping(true);
  });
  const publishAway = () => {
    document.awareness.setLocalStateField("away", window.document.visibilityState === "hidden");
  };
  window.document.addEventListener("visibilitychange", publishAway);
  publishAway();
}
