/**
 * A document whose stored data cannot be read whole: a log entry or the compacted state that no
 * longer decodes, or a LevelDB block that fails its checksum. Serving what is left would show
 * users half a document and let their next edit build on it, so the document is refused
 * (Hocuspocus sends the client a permission-denied with `reason`) until an operator runs
 * `tandem check` and `tandem repair`. Every other document is served as usual.
 */
export class DamagedDocumentError extends Error {
  /** What Hocuspocus tells the client (permission-denied reason). */
  readonly reason = "document-damaged";

  constructor(
    readonly document: string,
    readonly why: string,
    options?: { cause?: unknown },
  ) {
    super(`document ${JSON.stringify(document)} is damaged: ${why}`, options);
    this.name = "DamagedDocumentError";
  }
}

/** LevelDB reports a failed checksum or an unreadable table as LEVEL_CORRUPTION. */
export function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const causeCode = ((error as { cause?: { code?: unknown } } | null)?.cause as { code?: unknown })
    ?.code;
  return code === "LEVEL_CORRUPTION" || causeCode === "LEVEL_CORRUPTION";
}
