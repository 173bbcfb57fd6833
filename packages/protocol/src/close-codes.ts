/**
 * WebSocket close codes the server uses, and why. Hocuspocus's own codes (4205 reset, 4401,
 * 4403, 4408 timeout) keep their meaning; providers reconnect after any of these but 4401/4403.
 */
export const CloseCode = {
  /** A text frame: the protocol is binary. */
  UnsupportedData: 1003,
  /** A frame that does not parse: truncated, unknown type, an update that does not decode. */
  InvalidFrame: 1007,
  /** A message larger than maxMessageSize (sent by the WebSocket layer before parsing). */
  MessageTooBig: 1009,
  /** The server could not store an update; the client keeps it and sends it again. */
  InternalError: 1011,
  /** The server is shutting down or restarting: reconnect. */
  ServiceRestart: 1012,
  /** The socket sent messages faster than the server's rate limit allows. */
  PolicyViolation: 1008,
  /** Hocuspocus: the document connection must be reset. */
  ResetConnection: 4205,
  /**
   * Hocuspocus: no valid token (also: the token expired and no fresh one came, or an operator
   * closed the user's connections through the admin API).
   */
  Unauthorized: 4401,
  /** Hocuspocus: the client may not have what it asked for. */
  Forbidden: 4403,
  /**
   * The socket stopped reading (or reads too slowly): what the server had queued for it passed
   * the server's send buffer limit. Providers reconnect and sync again.
   */
  SendBufferFull: 4429,
  /** An update would grow the document past the server's maximum document size. */
  DocumentTooLarge: 4413,
  /** The document was deleted (admin API): it and its history are gone. */
  DocumentDeleted: 4404,
  /** Hocuspocus: no message (or no authentication) in time. */
  Timeout: 4408,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
