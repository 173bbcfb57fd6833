// Type-checked with tsc against the installed packages' .d.ts (strict, skipLibCheck off).
import { CloseCode } from "@tandem/protocol";
import {
  createClient,
  type DocumentStatus,
  type TandemDocument,
  TandemError,
} from "@tandem/provider";
import { TandemProvider, useDocument, useYText } from "@tandem/react";
import { defaultConfig, startServer, type TandemServer } from "@tandem/server";
import WebSocket from "ws";
import type * as Y from "yjs";

export async function run(): Promise<string> {
  const server: TandemServer = await startServer(defaultConfig({ port: 0, data: "./data" }));
  const client = createClient({ url: server.url, WebSocketPolyfill: WebSocket });
  const page: TandemDocument = client.open("page", { user: { id: "ada", name: "Ada" } });
  const text: Y.Text = page.doc.getText("body");
  const status: DocumentStatus = page.status;
  const code: number = CloseCode.InvalidFrame;
  await client.close();
  await server.stop();
  return `${text.toString()} ${status} ${code} ${new TandemError("closed", "x").code}`;
}

export const bindings = [TandemProvider, useDocument, useYText] as const;
