/** What a token grants on a document. */
export type Access = "read" | "write";

/**
 * A token's `docs` claim maps document names or globs to an access level:
 *   "notes/2024"  exactly that document
 *   "team-a/*"    any document directly under team-a/ ("*" stops at "/")
 *   "team-a/**"   anything under team-a/, at any depth
 *   "*"           any document without a "/"; "**" any document at all
 * When several entries match, the strongest access wins. No matching entry: no access.
 */
export function accessFor(
  docs: Readonly<Record<string, Access>>,
  documentName: string,
): Access | null {
  let access: Access | null = null;
  for (const [pattern, granted] of Object.entries(docs)) {
    if (!matches(pattern, documentName)) continue;
    if (granted === "write") return "write";
    access = "read";
  }
  return access;
}

const compiled = new Map<string, RegExp>();

function matches(pattern: string, name: string): boolean {
  if (!pattern.includes("*")) return pattern === name;
  let regex = compiled.get(pattern);
  if (!regex) {
    const source = pattern
      .split(/(\*\*|\*)/)
      .map((part) =>
        part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("");
    regex = new RegExp(`^${source}$`, "s");
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex.test(name);
}
