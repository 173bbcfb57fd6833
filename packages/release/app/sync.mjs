// Plain Node.js, no tsx, no bundler: the installed SDK syncs a document with the installed server
// (its URL is the first argument), prints what it found, adds a line, and exits after close().
import { createClient } from "@tandem/provider";
import WebSocket from "ws";

const client = createClient({ url: process.argv[2], WebSocketPolyfill: WebSocket });
const notes = client.open("packaged", { user: { id: "node", name: "Node" } });
await notes.whenSynced();
const text = notes.doc.getText("body");
console.log(`text: ${text.toString()}`);
text.insert(text.length, "synced from the package. ");
await notes.whenStored();
console.log("stored");
await client.close();
