/**
 * A shared notepad in the terminal: opens the document "notes", prints its text whenever
 * anyone changes it, shows who else is there, adds a line, and stays until Ctrl+C.
 *
 *   pnpm serve                                                  # a Tandem server on :1234
 *   npx tsx packages/provider/examples/notes.ts Ada             # one terminal
 *   npx tsx packages/provider/examples/notes.ts Grace           # another
 */
import { createClient } from "@tandem/provider";
import WebSocket from "ws";

const name = process.argv[2] ?? "Ada";
const url = process.argv[3] ?? "ws://127.0.0.1:1234";

// In a browser, leave out WebSocketPolyfill: the browser has a WebSocket.
const client = createClient({ url, WebSocketPolyfill: WebSocket });
const notes = client.open("notes", { user: { id: name.toLowerCase(), name } });

// Ctrl+C, at any moment (even while connecting, even twice): close() ends everything, and the
// process exits by itself.
process.on("SIGINT", () => void client.close());

// Bind the Y.Text: render it whenever it changes, whoever changed it.
const text = notes.doc.getText("body");
text.observe(() => console.log(`text: ${text.toString()}`));

notes.on("status", (status) => console.log(`status: ${status}`));
notes.on("peers", (peers) => {
  console.log(`also here: ${peers.map((peer) => peer.name).join(", ") || "nobody"}`);
});

await notes.whenSynced();
text.insert(text.length, `${name} was here. `);
await notes.whenStored();
console.log("saved on the server");
