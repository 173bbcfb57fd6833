import type { BrowserContext, WebSocketRoute } from "@playwright/test";

interface Link {
  page: WebSocketRoute;
  server: WebSocketRoute;
}

/** The close code a browser reports when a connection drops without a close handshake. */
const ABNORMAL_CLOSURE = 1006;

/**
 * One person's network, which a test can pull the plug on.
 *
 * `context.setOffline(true)` alone does not cut a WebSocket that is already open (Chromium
 * keeps it: microsoft/playwright#4910), so it would not take a live collaborator offline. Every
 * WebSocket of the context therefore goes through Playwright (routeWebSocket), connected to the
 * real server; going offline drops those connections as a lost network would (1006, no close
 * handshake on the page's side) and refuses new ones until the network is back. HTTP requests
 * (the page, the app shell) are cut by setOffline, which also makes the page see
 * `navigator.onLine === false` and the offline/online events.
 */
export class Network {
  private online = true;
  /** False while the network is silent: links stay open but carry nothing. */
  private flowing = true;
  private readonly links = new Set<Link>();

  private constructor(private readonly context: BrowserContext) {}

  static async control(context: BrowserContext): Promise<Network> {
    const network = new Network(context);
    await context.routeWebSocket(/.*/, (ws) => network.route(ws));
    return network;
  }

  get isOnline(): boolean {
    return this.online;
  }

  async goOffline(): Promise<void> {
    this.online = false;
    await this.context.setOffline(true);
    const links = [...this.links];
    this.links.clear();
    await Promise.all(
      links.flatMap(({ page, server }) => [
        page.close({ code: ABNORMAL_CLOSURE, reason: "network lost" }).catch(() => {}),
        server.close({ code: 1001, reason: "network lost" }).catch(() => {}),
      ]),
    );
  }

  async goOnline(): Promise<void> {
    this.online = true;
    this.flowing = true;
    await this.context.setOffline(false);
  }

  /**
   * A network that dies without a word, as a pulled cable or a laptop closed mid-session: the
   * sockets stay open on both sides, but nothing gets through. Nobody is told; only timeouts
   * notice.
   */
  goSilent(): void {
    this.flowing = false;
  }

  private route(page: WebSocketRoute): void {
    if (!this.online) {
      // As a failed connection attempt: the page sees the socket close and tries again later.
      void page.close({ code: ABNORMAL_CLOSURE, reason: "offline" }).catch(() => {});
      return;
    }
    const server = page.connectToServer();
    const link = { page, server };
    this.links.add(link);
    // With these handlers Playwright no longer forwards messages itself: do it while flowing.
    page.onMessage((message) => {
      if (this.flowing) server.send(message);
    });
    server.onMessage((message) => {
      if (this.flowing) page.send(message);
    });
    // With these handlers Playwright no longer forwards closes itself: do it here.
    page.onClose((code, reason) => {
      this.links.delete(link);
      void server.close(closeOptions(code, reason)).catch(() => {});
    });
    server.onClose((code, reason) => {
      this.links.delete(link);
      void page.close(closeOptions(code, reason)).catch(() => {});
    });
  }
}

function closeOptions(code: number | undefined, reason: string | undefined) {
  return { ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) };
}
