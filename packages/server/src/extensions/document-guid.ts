import type { Extension } from "@hocuspocus/server";

/**
 * Names each document Hocuspocus creates (its Y.Doc guid) from a counter. Y.Doc's default guid is
 * lib0's uuidv4, which draws 31 random numbers, each a call into the platform's crypto
 * (getRandomValues): about 0.15 ms per document here, 7% of the CPU of opening 1,000 documents
 * (many-docs profile: uuidv4 and randomFillSync). A guid only tells sub-documents apart, which
 * Tandem refuses, so a counter unique in the process is as good.
 *
 * Hocuspocus spreads what the last onCreateDocument hook returns into the document's options.
 */
export class DocumentGuid implements Extension {
  extensionName = "tandem-document-guid";
  private created = 0;

  async onCreateDocument(): Promise<{ guid: string }> {
    this.created++;
    return { guid: `tandem-${this.created}` };
  }
}
