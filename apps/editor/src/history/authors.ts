import type { TandemDocument } from "@tandem/provider";
import { readStorage, writeStorage } from "../dom.ts";
import { colorForId } from "../presence/colors.ts";
import type { AuthorView } from "./diff.ts";

/**
 * Who is who, for history: a person's colour (the one they have in presence) and which Yjs
 * client ids belong to whom, so inserted text can be shown in its author's colour.
 *
 * Yjs records only a client id with each insertion; the person behind it is known for the tabs
 * this page has seen in awareness (everyone who was here, including this tab), and for those
 * seen by earlier visits of this browser (remembered per document, a bounded list). Text written
 * by anyone else stays unattributed. (The server knows every update's author; an API that told
 * client ids' authors would make this exact for everyone.)
 */
export interface AuthorDirectory {
  /** The person behind a Yjs client id, if known. */
  byClient(client: number): AuthorView | null;
  /** A person's colour: the one they use in presence, else the app's default for their id. */
  colorOf(id: string): string;
}

interface Remembered {
  id: string;
  name: string;
  color: string;
}

/** Client ids remembered per document: enough for a long while of visits, small in storage. */
const MAX_REMEMBERED = 200;

export function createAuthorDirectory(
  document: TandemDocument,
  me: () => { id: string; name: string; color: string },
): AuthorDirectory {
  const key = `tandem.history.clients.${document.name}`;
  const clients = new Map<number, Remembered>(load(key));
  /** Latest colour per person id. */
  const colors = new Map<string, string>();
  for (const person of clients.values()) colors.set(person.id, person.color);

  let dirty = false;
  const learn = (client: number, person: Remembered) => {
    const known = clients.get(client);
    colors.set(person.id, person.color);
    if (known && known.id === person.id && known.name === person.name) return;
    // Re-inserted at the end: the map's order is oldest first, for trimming.
    clients.delete(client);
    clients.set(client, person);
    dirty = true;
  };
  const save = () => {
    if (!dirty) return;
    dirty = false;
    const entries = [...clients].slice(-MAX_REMEMBERED);
    writeStorage("local", key, JSON.stringify(entries));
  };

  const readAwareness = () => {
    for (const [client, state] of document.awareness.getStates()) {
      const person = personOf(state);
      if (person) learn(client, person);
    }
    save();
  };
  document.awareness.on("change", readAwareness);
  readAwareness();

  return {
    byClient(client) {
      if (client === document.doc.clientID) {
        const self = me();
        learn(client, self);
        save();
        return self;
      }
      const person = clients.get(client);
      return person ? { ...person, color: colors.get(person.id) ?? person.color } : null;
    },
    colorOf(id) {
      if (id === me().id) return me().color;
      return colors.get(id) ?? colorForId(id);
    },
  };
}

function personOf(state: unknown): Remembered | null {
  const user = (state as { user?: unknown } | null)?.user as Record<string, unknown> | undefined;
  if (!user || typeof user.id !== "string" || typeof user.name !== "string") return null;
  const color = typeof user.color === "string" ? user.color : colorForId(user.id);
  return { id: user.id, name: user.name, color };
}

function load(key: string): Array<[number, Remembered]> {
  try {
    const entries: unknown = JSON.parse(readStorage("local", key) ?? "[]");
    if (!Array.isArray(entries)) return [];
    return entries.flatMap((entry: unknown) => {
      if (!Array.isArray(entry) || typeof entry[0] !== "number") return [];
      const person = personOf({ user: entry[1] });
      return person ? [[entry[0], person] as [number, Remembered]] : [];
    });
  } catch {
    return [];
  }
}
