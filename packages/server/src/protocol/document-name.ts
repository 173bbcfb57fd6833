import * as decoding from "lib0/decoding";

/**
 * What a document name may be, checked once at the edge (the WebSocket gateway) so that no other
 * part of the server, the glob matcher, LevelDB keys or log lines, ever sees a name that breaks
 * these rules:
 * - not empty, and at most `maxBytes` bytes of UTF-8 (every frame carries the name, it becomes a
 *   LevelDB key prefix, and it is matched against the token's globs and written to logs);
 * - valid UTF-8 on the wire, valid Unicode in memory (no lone surrogates);
 * - no control characters (C0, DEL, C1), no line or paragraph separators and no bidirectional
 *   overrides: nothing that can end a log line, drive a terminal, or show one name as another.
 */

/** Characters a name may not contain (see above); \p{Cs} is a lone surrogate (not Unicode). */
const FORBIDDEN = /[\p{Cc}\p{Cs}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** Why a name is refused, or null when it is fine. */
export function documentNameProblem(name: string, maxBytes: number): string | null {
  if (name.length === 0) return "empty document name";
  // A UTF-16 code unit is at most 3 UTF-8 bytes: skip the byte count for short names.
  if (name.length * 3 > maxBytes && Buffer.byteLength(name, "utf8") > maxBytes) {
    return `document name longer than ${maxBytes} bytes`;
  }
  if (FORBIDDEN.test(name)) return "document name contains control characters";
  return null;
}

/** Decodes UTF-8 strictly: invalid bytes are an error, not U+FFFD. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Hocuspocus's session id, after "\0" in a frame's address (providers with session awareness):
 * a short random id; this bounds it without depending on its exact form.
 */
const MAX_SESSION_ID_BYTES = 128;

/** The document name in a frame's address: the address up to "\0" and a session id, if any. */
export function documentNameOf(address: string): string {
  const separator = address.indexOf("\0");
  return separator === -1 ? address : address.slice(0, separator);
}

/**
 * Checks the address at the start of a client frame (varString: document name, optionally "\0"
 * and a session id) without decoding more than the limit allows. Returns why it is refused, or
 * null. A frame too short to hold an address is left to the frame screen.
 */
export function frameAddressProblem(frame: Uint8Array, maxNameBytes: number): string | null {
  let bytes: Uint8Array;
  try {
    const decoder = decoding.createDecoder(frame);
    const length = decoding.readVarUint(decoder);
    if (length > maxNameBytes + 1 + MAX_SESSION_ID_BYTES) {
      return `document name longer than ${maxNameBytes} bytes`;
    }
    bytes = decoding.readUint8Array(decoder, length);
  } catch {
    return null;
  }
  let address: string;
  try {
    address = strictUtf8.decode(bytes);
  } catch {
    return "document name is not valid UTF-8";
  }
  const name = documentNameOf(address);
  const problem = documentNameProblem(name, maxNameBytes);
  if (problem) return problem;
  if (name.length < address.length) {
    const session = address.slice(name.length + 1);
    if (Buffer.byteLength(session) > MAX_SESSION_ID_BYTES || FORBIDDEN.test(session)) {
      return "session id is too long or contains control characters";
    }
  }
  return null;
}
