import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import * as Y from "yjs";
import { ConfigError } from "../config.ts";
import { loadConvert } from "../content/convert.ts";
import { checkUpdate, DEFAULT_UPDATE_LIMITS } from "../protocol/frame-screen.ts";
import { openDataStore } from "./data-store.ts";

export const EXPORT_USAGE = `Usage: tandem export NAME [--format F] [--out FILE] [--data DIR]
       tandem export --all DIR [--format F] [--data DIR]

Exports documents of a stopped server's data directory (a running server: GET /api/documents/NAME).
One document goes to stdout (or --out FILE); --all writes one file per document into DIR, named
by the document's name, percent-encoded ("team/plan" is team%2Fplan.md), so tandem import reads
the names back.

  --format F     yjs (the whole document, lossless), json (ProseMirror JSON, the default), html,
                 markdown, text (rich-text content of the editor's schema)
  --out FILE     write the one document to FILE instead of stdout (needed for yjs)
  --all DIR      export every document into DIR (created when missing)
  --data DIR     the data directory (default: env TANDEM_DATA, else ./data)
`;

export const IMPORT_USAGE = `Usage: tandem import FILE... [--name NAME] [--data DIR]

Imports files into a stopped server's data directory (a running server: PUT /api/documents/NAME).
The format comes from the extension: .yjs (a Yjs update, merged into the document), .json, .html,
.md or .markdown, .txt (the document's content becomes the file's, as one update: its history
is kept). The document's name is the file's name without the extension, percent-decoded, or
--name (one file only). Exits 0 when every file was imported, 1 otherwise.

  --name NAME    the document to import the one FILE into
  --data DIR     the data directory (default: env TANDEM_DATA, else ./data; created when missing)
`;

const FORMATS = ["yjs", "json", "html", "markdown", "text"] as const;
type Format = (typeof FORMATS)[number];

const EXTENSIONS: Record<Format, string> = {
  yjs: ".yjs",
  json: ".json",
  html: ".html",
  markdown: ".md",
  text: ".txt",
};
const FORMAT_OF_EXTENSION: Record<string, Format> = {
  ".yjs": "yjs",
  ".json": "json",
  ".html": "html",
  ".htm": "html",
  ".md": "markdown",
  ".markdown": "markdown",
  ".txt": "text",
};

function args(argv: readonly string[], options: NonNullable<ParseArgsConfig["options"]>) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

function formatOption(value: unknown): Format {
  const format = (value ?? "json") as Format;
  if (!FORMATS.includes(format)) {
    throw new ConfigError(
      `invalid --format: ${JSON.stringify(value)} (accepted: ${FORMATS.join(", ")})`,
    );
  }
  return format;
}

/** The file content of a document (a whole Yjs update) in a format. */
async function encode(update: Uint8Array, format: Format): Promise<Uint8Array | string> {
  if (format === "yjs") return update;
  const { render } = await loadConvert();
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  const text = render(doc, format);
  doc.destroy();
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** `tandem export`: one document to stdout or a file, or every document into a directory. */
export async function exportCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const { values, positionals } = args(argv, {
    data: { type: "string" },
    format: { type: "string" },
    out: { type: "string" },
    all: { type: "string" },
  });
  const format = formatOption(values.format);
  const data = (values.data as string | undefined) ?? env.TANDEM_DATA ?? "./data";
  const all = values.all as string | undefined;
  if ((all === undefined) === (positionals.length !== 1)) {
    throw new ConfigError("give one document NAME, or --all DIR (see tandem export --help)");
  }
  if (all === undefined && format === "yjs" && !values.out) {
    throw new ConfigError("--format yjs is binary: write it to a file with --out FILE");
  }
  const store = await openDataStore(data);
  try {
    if (all === undefined) {
      const name = positionals[0] as string;
      const update = await store.read(name);
      if (!update) {
        process.stderr.write(`tandem: no document ${JSON.stringify(name)} in ${data}\n`);
        return 1;
      }
      const content = await encode(update, format);
      if (values.out) await writeFile(values.out as string, content);
      else out((content as string).replace(/\n$/, ""));
      return 0;
    }
    await mkdir(all, { recursive: true });
    const names = (await store.list()).map((info) => info.name).sort();
    for (const name of names) {
      const update = await store.read(name);
      if (!update) continue;
      const file = join(all, `${encodeURIComponent(name)}${EXTENSIONS[format]}`);
      await writeFile(file, await encode(update, format));
      out(`exported ${JSON.stringify(name)} to ${file}`);
    }
    out(`${names.length} documents exported from ${data} to ${all}`);
    return 0;
  } finally {
    await store.close();
  }
}

/** `tandem import`: each file into the document its name names. */
export async function importCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const { values, positionals: files } = args(argv, {
    data: { type: "string" },
    name: { type: "string" },
  });
  if (files.length === 0) throw new ConfigError("name at least one FILE to import");
  if (values.name !== undefined && files.length !== 1) {
    throw new ConfigError("--name goes with exactly one FILE");
  }
  const plan = files.map((file) => {
    const extension = extname(file).toLowerCase();
    const format = FORMAT_OF_EXTENSION[extension];
    if (!format) {
      throw new ConfigError(
        `${file}: unknown extension ${JSON.stringify(extension)} (accepted: ${Object.keys(FORMAT_OF_EXTENSION).join(", ")})`,
      );
    }
    let name = values.name as string | undefined;
    if (name === undefined) {
      try {
        name = decodeURIComponent(basename(file, extname(file)));
      } catch {
        throw new ConfigError(`${file}: the file name is not a percent-encoded document name`);
      }
    }
    return { file, format, name };
  });
  const data = (values.data as string | undefined) ?? env.TANDEM_DATA ?? "./data";
  const store = await openDataStore(data, { create: true });
  let failed = 0;
  try {
    for (const { file, format, name } of plan) {
      try {
        const bytes = await readFile(file);
        const update = await importUpdate(bytes, format, await store.read(name));
        if (update) await store.append(name, update);
        out(`imported ${file} into ${JSON.stringify(name)}${update ? "" : " (unchanged)"}`);
      } catch (error) {
        failed++;
        out(`FAILED   ${file}: ${(error as Error).message}`);
      }
    }
  } finally {
    await store.close();
  }
  return failed === 0 ? 0 : 1;
}

/** The update that imports a file into a document (its current state, or null when new). */
async function importUpdate(
  bytes: Uint8Array,
  format: Format,
  current: Uint8Array | null,
): Promise<Uint8Array | null> {
  if (format === "yjs") {
    const problem = checkUpdate(bytes, DEFAULT_UPDATE_LIMITS);
    if (problem) throw new Error(`not an acceptable Yjs update: ${problem}`);
    return bytes;
  }
  const { parse, replaceContent } = await loadConvert();
  const content = parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes), format);
  const doc = new Y.Doc();
  if (current) Y.applyUpdate(doc, current);
  const updates: Uint8Array[] = [];
  doc.on("update", (update: Uint8Array) => updates.push(update));
  replaceContent(doc, content);
  doc.destroy();
  if (updates.length === 0) return null;
  return updates.length === 1 ? (updates[0] as Uint8Array) : Y.mergeUpdates(updates);
}
