/**
 * A shared notepad in React: everyone who opens it edits the same text, sees whether their
 * changes are saved on the server, and sees who else is there.
 *
 *   import { createRoot } from "react-dom/client";
 *   createRoot(element).render(
 *     <App server={{ url: "ws://127.0.0.1:1234" }} user={{ id: "ada", name: "Ada" }} />,
 *   );
 */
import type { ClientOptions, UserInput } from "@tandem/provider";
import {
  TandemProvider,
  useDocument,
  usePeers,
  useStatus,
  useStored,
  useYText,
} from "@tandem/react";
import type * as Y from "yjs";

export function App({ server, user }: { server: ClientOptions; user: UserInput }) {
  // One client for the whole app: it connects when a document is first opened, and closes
  // when the provider unmounts.
  return (
    <TandemProvider options={server}>
      <Notes user={user} />
    </TandemProvider>
  );
}

function Notes({ user }: { user: UserInput }) {
  // Open while this component is mounted; components using "notes" share one handle.
  const notes = useDocument("notes", { user });
  const text = useYText(notes, "body");
  const status = useStatus(notes);
  const stored = useStored(notes);
  const peers = usePeers(notes);

  return (
    <main>
      <p>
        {status}, {stored ? "saved" : "saving…"}
      </p>
      <textarea
        aria-label="Notes"
        value={text}
        onChange={(event) => replaceText(notes.doc.getText("body"), event.target.value)}
      />
      <p>Also here: {peers.map((peer) => peer.name).join(", ") || "nobody"}</p>
    </main>
  );
}

/**
 * Applies the textarea's new value as the smallest edit to the Y.Text (the changed middle), so
 * that what others typed elsewhere in the text meanwhile is merged, not overwritten.
 */
function replaceText(text: Y.Text, next: string): void {
  const current = text.toString();
  let start = 0;
  while (start < current.length && current[start] === next[start]) start++;
  let end = 0;
  while (
    end < current.length - start &&
    end < next.length - start &&
    current[current.length - 1 - end] === next[next.length - 1 - end]
  ) {
    end++;
  }
  text.doc?.transact(() => {
    text.delete(start, current.length - start - end);
    text.insert(start, next.slice(start, next.length - end));
  });
}
