import type { Extension } from "@hocuspocus/server";
import { nextDocGuid } from "../documents/doc-guid.ts";

/**
 * Names each document Hocuspocus creates from a counter instead of a uuidv4 (doc-guid.ts says
 * why). Hocuspocus spreads what the last onCreateDocument hook returns into the document's
 * options.
 */
export class DocumentGuid implements Extension {
  extensionName = "tandem-document-guid";

  async onCreateDocument(): Promise<{ guid: string }> {
    return { guid: nextDocGuid() };
  }
}
