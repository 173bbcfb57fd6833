import { mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { startTestServer, type TestServer, tempDir } from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** A raw GET, so paths like /../ reach the server as written. */
function get(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  type: string;
  cache: string;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    // An options object, not a URL: a URL would be normalized before it is sent.
    request({ hostname, port, path, headers }, (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers["content-type"]),
          cache: String(res.headers["cache-control"]),
          body,
          headers: res.headers,
        }),
      );
    })
      .on("error", reject)
      .end();
  });
}

describe("serving the editor's files on the server's port", () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir();
    mkdirSync(join(dir.path, "assets"));
    writeFileSync(join(dir.path, "index.html"), "<!doctype html><title>Tandem</title>");
    writeFileSync(join(dir.path, "sw.js"), "self.addEventListener('fetch', () => {});");
    writeFileSync(join(dir.path, "assets", "app-1a2b3c.js"), "console.log('app');");
    writeFileSync(
      join(dir.path, "assets", "big-9f8e7d.css"),
      "body { color: black; }\n".repeat(400),
    );
    server = await startTestServer({ staticDir: dir.path });
  });
  afterAll(async () => {
    await server.dispose();
    await dir.remove();
  });

  it("serves the app at / and at its routes", async () => {
    for (const path of ["/", "/d/team-notes", "/d/a%20b"]) {
      const page = await get(server.httpUrl, path);
      expect(page.status, path).toBe(200);
      expect(page.type).toBe("text/html; charset=utf-8");
      expect(page.body).toContain("<title>Tandem</title>");
      expect(page.cache).toBe("no-cache");
    }
  });

  it("serves the app for a page whose name looks like a file (a browser asks for text/html)", async () => {
    const page = await get(server.httpUrl, "/d/notes.md", {
      accept: "text/html,application/xhtml+xml",
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain("<title>Tandem</title>");
    // A script asking for the same path gets no page in place of a file.
    expect((await get(server.httpUrl, "/d/notes.md", { accept: "*/*" })).status).toBe(404);
  });

  it("caches hashed assets for good and revalidates the service worker", async () => {
    const asset = await get(server.httpUrl, "/assets/app-1a2b3c.js");
    expect(asset).toMatchObject({ status: 200, type: "text/javascript; charset=utf-8" });
    expect(asset.cache).toContain("immutable");
    const sw = await get(server.httpUrl, "/sw.js");
    expect(sw).toMatchObject({ status: 200, cache: "no-cache" });
  });

  it("answers 404 for missing files and never leaves its directory", async () => {
    expect((await get(server.httpUrl, "/assets/missing.js")).status).toBe(404);
    const traversal = await get(server.httpUrl, "/../../../etc/passwd");
    expect(traversal.status).toBe(404);
    expect(traversal.body).not.toContain("root:");
    expect((await get(server.httpUrl, "/%2e%2e/%2e%2e/etc/passwd")).status).toBe(404);
    expect((await get(server.httpUrl, "/healthz")).status).toBe(200);
  });

  it("revalidates with ETags (304), compresses text, and lists no directory", async () => {
    const first = await get(server.httpUrl, "/sw.js");
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^(W\/)?"/);
    const again = await get(server.httpUrl, "/sw.js", { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.body).toBe("");

    const gzipped = await get(server.httpUrl, "/assets/big-9f8e7d.css", {
      "accept-encoding": "gzip",
    });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers["content-encoding"]).toBe("gzip");
    expect(gzipped.headers["content-security-policy"]).toContain("default-src 'self'");
    const plain = await get(server.httpUrl, "/assets/big-9f8e7d.css");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body).toBe("body { color: black; }\n".repeat(400));

    // A directory is never listed: a page request gets the app, anything else 404.
    const directory = await get(server.httpUrl, "/assets/", { accept: "text/html" });
    expect(directory.body).toBe("<!doctype html><title>Tandem</title>");
  });
});
