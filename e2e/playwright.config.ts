import { existsSync } from "node:fs";
import { defineConfig } from "@playwright/test";

/**
 * The browser: $CHROMIUM_PATH, else Debian's chromium (what CI installs), else Playwright's own
 * download if there is one. Playwright cannot download browsers on the build machine.
 */
function chromiumPath(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  return undefined;
}

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  globalSetup: "./global-setup.ts",
  // Each test runs a server and two or three browsers: one at a time suits a 2-core machine.
  workers: 1,
  fullyParallel: false,
  // A flaky test is a bug to find, not to retry.
  retries: 0,
  forbidOnly: Boolean(process.env.CI),
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromiumPath(),
      args: [
        // Root in a container: Chromium's sandbox needs user namespaces it does not get.
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-gpu",
      ],
    },
  },
});
