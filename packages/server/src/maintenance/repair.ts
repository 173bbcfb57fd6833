import { existsSync, readdirSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ClassicLevel } from "classic-level";
import { ConfigError } from "../config.ts";
import { LevelDocumentStore } from "../store/leveldb-store.ts";
import {
  type Db,
  describe,
  documentNames,
  type IntactVersion,
  inspectDocument,
  openDirectory,
  readHistory,
} from "./inspect.ts";

export const REPAIR_USAGE = `Usage: tandem repair --data DIR --out NEW_DIR

Salvages every readable document of a damaged data directory into a new one, which a server can
then use. The damaged directory is never modified: it is copied, LevelDB's own repair runs on the
copy (it drops table blocks that fail their checksums), and every document is rebuilt from the
entries that still decode and apply, with the intact versions of its history. Prints what was
kept and what was lost; exits 0 when every document was salvaged whole, 1 when something was
lost, 2 on bad usage.

  --data DIR     the damaged data directory (default: env TANDEM_DATA, else ./data)
  --out NEW_DIR  where to write the salvaged documents (must not exist, or be empty)
`;

export async function repairCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  let data: string;
  let target: string;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { data: { type: "string" }, out: { type: "string" } },
      strict: true,
      allowPositionals: false,
    });
    data = values.data ?? env.TANDEM_DATA ?? "./data";
    if (!values.out) throw new Error("missing --out NEW_DIR (where the salvaged documents go)");
    target = values.out;
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (!existsSync(data)) throw new ConfigError(`--data ${data} does not exist`);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new ConfigError(`--out ${target} is not empty: choose a new directory`);
  }

  const work = await mkdtemp(join(tmpdir(), "tandem-repair-"));
  try {
    const copy = join(work, "copy");
    await cp(data, copy, { recursive: true });
    await rm(join(copy, "LOCK"), { force: true });
    await ClassicLevel.repair(copy);
    const source = await openDirectory(copy);
    const store = await LevelDocumentStore.open({
      path: target,
      fsync: true,
      compaction: { minUpdates: 1, ratio: 0, maxUpdates: 1 },
    });
    let lost = 0;
    let kept = 0;
    try {
      const { names, problems } = await documentNames(source);
      for (const problem of problems) {
        lost++;
        out(`LOST     ${problem}`);
      }
      for (const name of names) {
        let inspected: Awaited<ReturnType<typeof inspectDocument>>;
        try {
          inspected = await inspectDocument(source, name);
        } catch (error) {
          lost++;
          out(`LOST     ${JSON.stringify(name)}: ${describe(error)}`);
          continue;
        }
        let versions = 0;
        if (inspected.good.length > 0) {
          await store.append(name, inspected.merged);
          versions = await salvageHistory(source, store, name);
          kept++;
        }
        if (inspected.problems.length === 0) {
          out(
            `kept     ${JSON.stringify(name)}${versions > 0 ? ` with ${versions} versions` : ""}`,
          );
        } else {
          lost++;
          const what =
            inspected.good.length > 0
              ? `kept ${inspected.good.length} readable parts`
              : "nothing readable";
          out(`PARTIAL  ${JSON.stringify(name)}: ${what}; ${inspected.problems.join("; ")}`);
        }
      }
    } finally {
      await source.close();
      await store.close();
    }
    out(
      `${kept} documents written to ${target}${lost > 0 ? `; ${lost} damaged parts could not be salvaged` : ", nothing lost"}`,
    );
    return lost === 0 ? 0 : 1;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Copies a document's intact versions and pending authors, a few versions per batch. */
async function salvageHistory(
  source: Db,
  store: LevelDocumentStore,
  name: string,
): Promise<number> {
  const history = readHistory(source, name);
  let batch: IntactVersion[] = [];
  let copied = 0;
  for (;;) {
    const next = await history.next();
    if (next.done) {
      await store.versions.adopt(name, batch, next.value.pending);
      return copied + batch.length;
    }
    batch.push(next.value);
    if (batch.length === 20) {
      await store.versions.adopt(name, batch);
      copied += batch.length;
      batch = [];
    }
  }
}
