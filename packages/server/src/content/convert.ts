/**
 * The content conversions (@tandem/schema/convert: Tiptap, a Markdown parser and the happy-dom
 * DOM shim) cost about 2 s of CPU and hundreds of open files to load. A server or a CLI command
 * that never converts content (most of them) must not pay for that at start, nor fail to start
 * with few file descriptors left: they are loaded on first use, once.
 */
export type Convert = typeof import("@tandem/schema/convert");

let loading: Promise<Convert> | undefined;

export function loadConvert(): Promise<Convert> {
  loading ??= import("@tandem/schema/convert");
  return loading;
}
