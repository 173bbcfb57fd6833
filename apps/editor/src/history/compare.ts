import type { Node } from "@tiptap/pm/model";
import type * as Y from "yjs";
import type { AuthorDirectory } from "./authors.ts";
import { type Authorship, type DiffResult, diffDocuments } from "./diff.ts";
import { currentDocument } from "./documents.ts";

/**
 * A version against the live document: what was inserted since (in its author's colour, where
 * the Yjs client that typed it is known) and what was removed.
 */
export function compareWithCurrent(
  version: Node,
  live: Y.Doc,
  authors: AuthorDirectory,
): DiffResult {
  const current = currentDocument(live);
  const authorship: Authorship = (textblock) =>
    current.clients
      .get(textblock)
      ?.map((run) => ({ length: run.length, author: authors.byClient(run.client) }));
  return diffDocuments(version, current.doc, authorship);
}
