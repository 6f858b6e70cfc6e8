// Debian's Chromium driven by playwright-core, with the checks every page of the browser tests
// gets: no console error, no failed request or error answer, an axe-core audit and a screenshot.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const artifacts = new URL("../test-results/", import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });

export async function launch() {
  return chromium.launch({
    executablePath: process.env.MCPWARDEN_CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A page whose console errors, failed requests and error answers are recorded in problems. */
export async function watchedPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`error answer: ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return { context, page, problems };
}

export const axeResults = [];

/**
 * Checks the page as it is now: nothing went wrong since the last check, axe-core finds no
 * serious or critical violation, nothing overflows the viewport sideways; saves a screenshot.
 */
export async function checkPage(w, name) {
  const { page, problems } = w;
  await page.waitForLoadState("networkidle");
  // axe runs through the DevTools protocol, outside the page's Content-Security-Policy.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  axeResults.push({ page: name, violations: result.length, serious: serious.length });
  // Against the width asked for: on a mobile viewport the browser widens innerWidth to fit a page
  // that overflows, which would hide the overflow.
  const overflow = (await page.evaluate(() => document.documentElement.scrollWidth)) - page.viewportSize().width;
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const found = problems.splice(0);
  assert.deepEqual(found, [], `${name}: console errors or failed requests`);
  assert.deepEqual(serious, [], `${name}: serious or critical axe-core violations`);
  assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than the viewport`);
}
