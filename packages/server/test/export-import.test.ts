import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { render } from "@tandem/schema/convert";
import { startTestServer, type TestServer, tempDir } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { exportCommand, importCommand } from "../src/maintenance/export-import.ts";
import { lines, tandem } from "./cli-helpers.ts";

const ADMIN = "admin-token-of-at-least-32-characters!!";
const DOCUMENTS: Record<string, string> = {
  plan: "# Plan\n\nShip **it**, then *rest*.\n\n- [ ] test\n- [x] build",
  "team/notes": "## Notes\n\n1. one\n2. two\n\n> quoted\n\n```ts\nconst x = 1;\n```",
  "naïve name.md": "Just a paragraph with a [link](https://example.com).",
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const dir = async () => {
  const made = await tempDir();
  cleanups.push(made.remove);
  return made.path;
};

/** A stopped data directory holding DOCUMENTS, written through the admin API. */
async function dataWithDocuments(): Promise<string> {
  const data = await dir();
  const server = await startTestServer({ data, adminToken: [ADMIN] });
  for (const [name, markdown] of Object.entries(DOCUMENTS)) {
    const response = await fetch(`${server.httpUrl}/api/documents/${encodeURIComponent(name)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "text/markdown" },
      body: markdown,
    });
    expect(response.status).toBe(201);
  }
  await server.stop();
  return data;
}

async function markdownIn(server: TestServer, name: string): Promise<string | null> {
  const update = await server.store.read(name);
  if (!update) return null;
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  return render(doc, "markdown");
}

describe("tandem export and import", () => {
  it("exports every document as Markdown files named by the document, and imports them back", async () => {
    const data = await dataWithDocuments();
    const out = await dir();
    const exported = await tandem("export", "--all", out, "--format", "markdown", "--data", data);
    expect(exported.stderr).toBe("");
    expect(exported.status).toBe(0);
    expect(exported.stdout).toContain(`3 documents exported from ${data} to ${out}`);
    expect(readdirSync(out).sort()).toEqual(
      ["na%C3%AFve%20name.md.md", "plan.md", "team%2Fnotes.md"].sort(),
    );
    expect(readFileSync(join(out, "plan.md"), "utf8")).toBe(`${DOCUMENTS.plan}\n`);

    const fresh = await dir();
    const report = lines();
    const files = readdirSync(out).map((file) => join(out, file));
    expect(await importCommand([...files, "--data", fresh], {}, report.out)).toBe(0);
    expect(report.text()).toContain('into "team/notes"');
    const server = await startTestServer({ data: fresh });
    cleanups.push(() => server.stop());
    for (const [name, markdown] of Object.entries(DOCUMENTS)) {
      expect(await markdownIn(server, name)).toBe(markdown);
    }
  });

  it("exports one document to stdout in each text format, and yjs to a file, losslessly", async () => {
    const data = await dataWithDocuments();
    const run = async (...argv: string[]) => {
      const report = lines();
      const status = await exportCommand([...argv, "--data", data], {}, report.out);
      return { status, text: report.text() };
    };
    expect(await run("plan", "--format", "markdown")).toEqual({ status: 0, text: DOCUMENTS.plan });
    expect((await run("plan", "--format", "html")).text).toContain("<h1>Plan</h1>");
    expect((await run("plan", "--format", "text")).text).toBe(
      "Plan\n\nShip it, then rest.\n\ntest\nbuild",
    );
    expect(JSON.parse((await run("plan")).text).type).toBe("doc");
    expect((await run("missing", "--format", "markdown")).status).toBe(1);
    await expect(run("plan", "--format", "yjs")).rejects.toThrow(/--out FILE/);
    await expect(run("plan", "--format", "pdf")).rejects.toThrow(/invalid --format/);

    // yjs: the whole document, merged into a new directory under the same name.
    const out = await dir();
    expect((await run("--all", out, "--format", "yjs")).status).toBe(0);
    const fresh = await dir();
    const files = readdirSync(out).map((file) => join(out, file));
    expect(await importCommand([...files, "--data", fresh], {}, lines().out)).toBe(0);
    const server = await startTestServer({ data: fresh });
    cleanups.push(() => server.stop());
    for (const [name, markdown] of Object.entries(DOCUMENTS)) {
      expect(await markdownIn(server, name)).toBe(markdown);
    }
  });

  it("import replaces an existing document's content as one more update, by extension", async () => {
    const data = await dataWithDocuments();
    const files = await dir();
    writeFileSync(join(files, "plan.html"), "<h2>New plan</h2><p>from <b>HTML</b></p>");
    writeFileSync(join(files, "plain.txt"), "first line\nsecond line\n");
    writeFileSync(join(files, "data.csv"), "a,b");
    writeFileSync(join(files, "broken.json"), "{ not json");
    await expect(
      importCommand([join(files, "data.csv"), "--data", data], {}, lines().out),
    ).rejects.toThrow(/unknown extension ".csv"/);
    const report = lines();
    const status = await importCommand(
      [
        join(files, "plan.html"),
        join(files, "plain.txt"),
        join(files, "broken.json"),
        "--data",
        data,
      ],
      {},
      report.out,
    );
    expect(status).toBe(1);
    expect(report.text()).toMatch(/^FAILED {3}.*broken\.json: the body is not JSON/m);
    const renamed = lines();
    writeFileSync(join(files, "x.md"), "renamed");
    expect(
      await importCommand(
        [join(files, "x.md"), "--name", "team/other", "--data", data],
        {},
        renamed.out,
      ),
    ).toBe(0);

    const server = await startTestServer({ data });
    cleanups.push(() => server.stop());
    expect(await markdownIn(server, "plan")).toBe("## New plan\n\nfrom **HTML**");
    expect(await markdownIn(server, "plain")).toBe("first line\n\nsecond line");
    expect(await markdownIn(server, "team/other")).toBe("renamed");
    expect(await markdownIn(server, "broken")).toBeNull();
  });

  it("refuses a data directory a running server holds", async () => {
    const data = await dir();
    const server = await startTestServer({ data });
    cleanups.push(() => server.stop());
    await expect(
      exportCommand(["--all", await dir(), "--data", data], {}, lines().out),
    ).rejects.toThrow(/in use by a running server/);
  });
});
