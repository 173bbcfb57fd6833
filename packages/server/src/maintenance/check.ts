import { parseArgs } from "node:util";
import { ConfigError } from "../config.ts";
import { documentNames, inspectDocument, openDirectory } from "./inspect.ts";

export const CHECK_USAGE = `Usage: tandem check [--data DIR]

Verifies every document of a stopped server's data directory: its metadata, its compacted state,
every log entry, that they merge, and its version history. Prints one line per document and a
summary; exits 0 when all are whole, 1 when any is damaged (then run tandem repair), 2 on bad
usage.

  --data DIR     the data directory (default: env TANDEM_DATA, else ./data)
`;

export interface CheckReport {
  documents: {
    name: string;
    entries: number;
    versions: number;
    bytes: number;
    problems: string[];
  }[];
  /** Problems of the directory itself (unreadable ranges). */
  problems: string[];
}

export async function checkDirectory(path: string): Promise<CheckReport> {
  const db = await openDirectory(path);
  try {
    const { names, problems } = await documentNames(db);
    const documents: CheckReport["documents"] = [];
    for (const name of names) {
      const { entries, versions, bytes, problems: found } = await inspectDocument(db, name);
      documents.push({ name, entries, versions, bytes, problems: found });
    }
    return { documents, problems };
  } finally {
    await db.close();
  }
}

/** `tandem check`: prints the report; resolves to the exit code. */
export async function checkCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const data = dataOption(argv, env);
  const report = await checkDirectory(data);
  let damaged = 0;
  for (const doc of report.documents) {
    if (doc.problems.length === 0) {
      const versions = doc.versions > 0 ? `, ${doc.versions} versions` : "";
      out(
        `ok       ${JSON.stringify(doc.name)} (${doc.entries} log entries${versions}, ${doc.bytes} bytes)`,
      );
    } else {
      damaged++;
      out(`DAMAGED  ${JSON.stringify(doc.name)}: ${doc.problems.join("; ")}`);
    }
  }
  for (const problem of report.problems) out(`DAMAGED  ${problem}`);
  const bad = damaged + report.problems.length;
  out(
    bad === 0
      ? `${report.documents.length} documents checked in ${data}: all whole`
      : `${report.documents.length} documents checked in ${data}: ${damaged} damaged${
          report.problems.length > 0 ? `, ${report.problems.length} unreadable ranges` : ""
        }; salvage with: tandem repair --data ${data} --out NEW_DIR`,
  );
  return bad === 0 ? 0 : 1;
}

export function dataOption(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { data: { type: "string" } },
      strict: true,
      allowPositionals: false,
    });
    return values.data ?? env.TANDEM_DATA ?? "./data";
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}
