import type { connectedPayload, Extension } from "@hocuspocus/server";

/** Remembers which sockets have authenticated at least one document (for the auth deadline). */
export class AuthenticatedSockets implements Extension {
  extensionName = "tandem-authenticated-sockets";
  private readonly sockets = new WeakSet<object>();

  async connected({ connection }: connectedPayload): Promise<void> {
    this.sockets.add(connection.webSocket);
  }

  has(socket: object): boolean {
    return this.sockets.has(socket);
  }
}
