#!/usr/bin/env node
// The responsiveness probe (src/probe/probe-process.ts) in a process of its own, run through tsx
// like the other bins: its round trips are timed on an event loop that nothing else in the
// bench can hold up.
import { register } from "tsx/esm/api";

register();
await import("../src/probe/probe-process.ts");
