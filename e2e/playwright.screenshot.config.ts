import { defineConfig } from "@playwright/test";
import suite from "./playwright.config.ts";

/** The README screenshot: the suite's settings, its own directory, so it never runs as a test. */
export default defineConfig({
  ...suite,
  testDir: "./screenshot",
  outputDir: "./test-results/screenshot",
});
