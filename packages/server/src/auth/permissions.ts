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
    if (!globMatches(pattern, documentName)) continue;
    if (granted === "write") return "write";
    access = "read";
  }
  return access;
}

/** A compiled glob: one step per literal character, "*" (not "/") or "**" (anything). */
type Step = string | typeof STAR | typeof GLOBSTAR;
const STAR = 0;
const GLOBSTAR = 1;

const compiled = new Map<string, Step[]>();

function compile(pattern: string): Step[] {
  let steps = compiled.get(pattern);
  if (steps) return steps;
  steps = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== "*") steps.push(pattern[i] as string);
    else if (pattern[i + 1] === "*") {
      steps.push(GLOBSTAR);
      i++;
    } else steps.push(STAR);
  }
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(pattern, steps);
  return steps;
}

/**
 * Whether `name` matches the glob, in time proportional to name length × pattern length, with no
 * backtracking: the matcher walks the name once, keeping the set of pattern positions reachable
 * so far (a Thompson NFA). A backtracking regex took quadratic time and more (a token for "*-*"
 * and a long name of dashes blocked the event loop for seconds).
 */
export function globMatches(pattern: string, name: string): boolean {
  if (!pattern.includes("*")) return pattern === name;
  const steps = compile(pattern);
  const size = steps.length + 1;
  let current = new Uint8Array(size);
  let next = new Uint8Array(size);
  // Wildcards match the empty string: a position before one also reaches the position after it.
  const close = (set: Uint8Array) => {
    for (let i = 0; i < steps.length; i++) {
      if (set[i] && typeof steps[i] !== "string") set[i + 1] = 1;
    }
  };
  current[0] = 1;
  close(current);
  for (let at = 0; at < name.length; at++) {
    const char = name[at] as string;
    next.fill(0);
    let any = false;
    for (let i = 0; i < steps.length; i++) {
      if (!current[i]) continue;
      const step = steps[i];
      if (step === GLOBSTAR || (step === STAR && char !== "/")) {
        next[i] = 1;
        any = true;
      } else if (step === char) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) return false;
    close(next);
    [current, next] = [next, current];
  }
  return current[steps.length] === 1;
}
