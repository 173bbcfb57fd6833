import { CONTENT_FRAGMENT, contentSchema } from "@tandem/schema";
import type { Node } from "@tiptap/pm/model";
import { yXmlFragmentToProseMirrorRootNode } from "@tiptap/y-tiptap";
import * as Y from "yjs";

/**
 * Yjs documents as ProseMirror documents, for preview and compare. Always on a copy: the
 * conversion may repair (change) the Y.Doc it reads, which must never be the live one.
 */

/** A version's content (one Yjs update) as a ProseMirror document. */
export function versionDocument(update: Uint8Array): Node {
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, update);
    return yXmlFragmentToProseMirrorRootNode(doc.getXmlFragment(CONTENT_FRAGMENT), contentSchema);
  } finally {
    doc.destroy();
  }
}

/** A stretch of a text block written by one Yjs client. */
export interface ClientRun {
  length: number;
  client: number;
}

/**
 * The live document as it is now, and which Yjs client wrote each stretch of each text block's
 * content (keyed by the text block nodes of the returned document). Yjs keeps the client id of
 * every insertion: that is all it knows of authorship (deletions carry none).
 */
export function currentDocument(live: Y.Doc): { doc: Node; clients: Map<Node, ClientRun[]> } {
  const copy = new Y.Doc();
  try {
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(live));
    const fragment = copy.getXmlFragment(CONTENT_FRAGMENT);
    const doc = yXmlFragmentToProseMirrorRootNode(fragment, contentSchema);
    const clients = new Map<Node, ClientRun[]>();
    collect(fragment, doc, clients);
    return { doc, clients };
  } finally {
    copy.destroy();
  }
}

/**
 * Walks the Yjs tree and the ProseMirror tree made from it side by side. Where they differ (the
 * conversion drops nodes the schema refuses) that part stays without authors.
 */
function collect(
  element: Y.XmlFragment | Y.XmlElement,
  node: Node,
  clients: Map<Node, ClientRun[]>,
): void {
  if (node.isTextblock) {
    clients.set(node, runsOf(element));
    return;
  }
  const children = element.toArray();
  if (children.length !== node.childCount) return;
  children.forEach((child, index) => {
    const pmChild = node.child(index);
    if (child instanceof Y.XmlElement && child.nodeName === pmChild.type.name) {
      collect(child, pmChild, clients);
    }
  });
}

/** A text block's content as runs of client ids, in ProseMirror offsets. */
function runsOf(element: Y.XmlFragment | Y.XmlElement): ClientRun[] {
  const runs: ClientRun[] = [];
  const push = (length: number, client: number) => {
    const last = runs[runs.length - 1];
    if (last && last.client === client) last.length += length;
    else runs.push({ length, client });
  };
  for (const child of element.toArray()) {
    if (child instanceof Y.XmlText) {
      // Characters and embeds count; formatting markers do not (they take no offset).
      for (let item = child._start; item !== null; item = item.right) {
        if (!item.deleted && item.countable) push(item.length, item.id.client);
      }
    } else if (child instanceof Y.XmlElement && child._item) {
      // An inline node (a hard break): one offset.
      push(1, child._item.id.client);
    }
  }
  return runs;
}
