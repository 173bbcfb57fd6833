import {
  type Browser,
  type BrowserContext,
  test as base,
  expect,
  type Locator,
  type Page,
  type TestInfo,
} from "@playwright/test";
import { Network } from "./network.ts";
import { type ServerOptions, TestServer } from "./server.ts";

/** One person at one browser: their own context (storage, network), one tab on a document. */
export interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
  /** Controls this person's network; null unless asked for with { network: true }. */
  network: Network | null;
  editor: Locator;
  status: Locator;
  saveState: Locator;
  /** Entries in this person's list of other people. */
  peers: Locator;
  typingIndicator: Locator;
}

export interface JoinOptions {
  /** Route this person's WebSockets through a Network the test can cut. */
  network?: boolean;
  /** More query parameters (token, ...); `user` is always the person's name. */
  params?: Record<string, string>;
  viewport?: { width: number; height: number };
  deviceScaleFactor?: number;
  /** The person's colour (one of the app's palette), as if picked in the name dialog. */
  color?: string;
  /** Another browser than the test's (a "fresh browser"). */
  browser?: Browser;
  /** Cookies for the site, sent with every request the page makes (its WebSocket's too). */
  cookies?: Record<string, string>;
}

/** Where people open documents, and whose logs go into a failed test's report. */
export interface Site {
  documentUrl(name: string, params?: Record<string, string>): string;
  logs(): string;
}

/**
 * The people in a test. Everything they print to the console (and uncaught errors) is kept and
 * attached to the report of a failed test, with the server's logs. Playwright's own
 * `screenshot: "only-on-failure"` covers the contexts of the test's browser; tabs in a browser
 * the test launched itself are screenshotted here.
 */
export class People {
  private readonly everyone: Person[] = [];
  private readonly console: string[] = [];
  /** Contexts of browsers the test launched itself, which Playwright's screenshots miss. */
  private readonly ownBrowserContexts = new Set<BrowserContext>();

  constructor(
    private readonly browser: Browser,
    private readonly server: Site,
  ) {}

  /** Opens `document` as `name` in a new browser context and waits for the editor. */
  async join(name: string, document: string, options: JoinOptions = {}): Promise<Person> {
    const context = await (options.browser ?? this.browser).newContext({
      ...(options.viewport ? { viewport: options.viewport } : {}),
      ...(options.deviceScaleFactor ? { deviceScaleFactor: options.deviceScaleFactor } : {}),
    });
    if (options.browser) this.ownBrowserContexts.add(context);
    if (options.color) {
      await context.addInitScript((color) => {
        localStorage.setItem("tandem.user.color", color);
      }, options.color);
    }
    if (options.cookies) {
      const { hostname } = new URL(this.server.documentUrl(document));
      await context.addCookies(
        Object.entries(options.cookies).map(([name, value]) => ({
          name,
          value,
          domain: hostname,
          path: "/",
        })),
      );
    }
    const network = options.network ? await Network.control(context) : null;
    context.on("page", (page) => this.listen(name, page));
    const page = await context.newPage();
    const person: Person = {
      name,
      context,
      page,
      network,
      editor: page.getByTestId("editor"),
      status: page.getByTestId("status"),
      saveState: page.getByTestId("save-state"),
      peers: page.getByTestId("peer"),
      typingIndicator: page.getByTestId("typing-indicator"),
    };
    this.everyone.push(person);
    await page.goto(this.server.documentUrl(document, { user: name, ...options.params }));
    await expect(person.editor).toBeVisible();
    return person;
  }

  /** Closes every context (every person's browser window). */
  async leaveAll(): Promise<void> {
    await Promise.all(this.everyone.map((person) => person.context.close().catch(() => {})));
  }

  async report(testInfo: TestInfo): Promise<void> {
    const failed = testInfo.status !== testInfo.expectedStatus;
    if (failed) {
      for (const person of this.everyone) {
        if (!this.ownBrowserContexts.has(person.context)) continue;
        for (const [index, page] of person.context.pages().entries()) {
          if (page.isClosed()) continue;
          const screenshot = await page.screenshot({ fullPage: true }).catch(() => null);
          if (screenshot) {
            await testInfo.attach(`${person.name}-tab${index + 1}.png`, {
              body: screenshot,
              contentType: "image/png",
            });
          }
        }
      }
      await testInfo.attach("browser-console.txt", {
        body: this.console.join("\n") || "(nothing logged)",
        contentType: "text/plain",
      });
      await testInfo.attach("server-logs.txt", {
        body: this.server.logs() || "(no logs)",
        contentType: "text/plain",
      });
    }
    await this.leaveAll();
  }

  private listen(name: string, page: Page): void {
    const started = Date.now();
    const stamp = () => `+${((Date.now() - started) / 1000).toFixed(2)}s`;
    page.on("console", (message) => {
      this.console.push(`${stamp()} [${name}] ${message.type()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => {
      this.console.push(`${stamp()} [${name}] uncaught: ${error.stack ?? error.message}`);
    });
    page.on("load", () => this.console.push(`${stamp()} [${name}] loaded ${page.url()}`));
  }
}

interface Fixtures {
  serverOptions: ServerOptions;
  server: TestServer;
  people: People;
}

export const test = base.extend<Fixtures>({
  serverOptions: [{}, { option: true }],
  server: async ({ serverOptions }, use) => {
    const server = await TestServer.start(serverOptions);
    await use(server);
    await server.dispose();
  },
  people: async ({ browser, server }, use, testInfo) => {
    const people = new People(browser, server);
    await use(people);
    await people.report(testInfo);
  },
});

export { expect };
