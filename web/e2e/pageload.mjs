// Measures how long the dashboard takes to show its data in headless Chromium: for each view,
// from the start of a full navigation (a reload: the app starts, refreshes its access token and
// loads the page's data) until the data is on screen, read from performance.now(). Used by
// `make bench` (cmd/mcpwarden-bench) against a seeded organization; prints one JSON document.
//
//   node web/e2e/pageload.mjs --url http://127.0.0.1:8000 --email E --password P [--search git] [--runs 5]
import { parseArgs } from "node:util";

import { launch } from "./browser.mjs";

const { values: o } = parseArgs({
  options: {
    url: { type: "string" },
    email: { type: "string" },
    password: { type: "string" },
    search: { type: "string", default: "git" },
    runs: { type: "string", default: "5" },
  },
});
if (!o.url || !o.email || !o.password) {
  console.error("pageload: --url, --email and --password are required");
  process.exit(2);
}
const runs = Number(o.runs);

const views = [
  { name: "Overview", path: "/", ready: (p) => p.getByRole("region", { name: "Top risks" }).getByRole("listitem").first() },
  { name: "Servers, first page", path: "/servers", ready: (p) => p.getByRole("table", { name: /Servers/ }).getByRole("row").nth(1) },
  {
    name: "Servers, filtered (critical, active)",
    path: "/servers?risk_level=critical&status=active",
    ready: (p) => p.getByRole("table", { name: /Servers/ }).getByRole("row").nth(1),
  },
  { name: `Servers, search "${o.search}"`, path: `/servers?search=${encodeURIComponent(o.search)}`, ready: (p) => p.getByRole("table", { name: /Servers/ }).getByRole("row").nth(1) },
  { name: "Servers, page 1,000", path: "/servers?page=1000", ready: (p) => p.getByRole("table", { name: /Servers/ }).getByRole("row").nth(1) },
  { name: "Agents", path: "/agents", ready: (p) => p.getByRole("table", { name: "Enrolled agents" }).getByRole("row").nth(1) },
  { name: "Alerts", path: "/alerts?dismissed=all", ready: (p) => p.getByRole("list").first() },
];

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const errors = [];
page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
page.on("pageerror", (e) => errors.push(e.message));

await page.goto(`${o.url}/ui/sign-in`);
await page.getByLabel("Email").fill(o.email);
await page.getByLabel("Password").fill(o.password);
await page.getByRole("button", { name: "Sign in" }).click();
await page.getByRole("heading", { name: "Overview" }).waitFor();

const results = [];
for (const v of views) {
  const ms = [];
  // One navigation to warm the browser's cache of the app's files, then the timed ones.
  for (let i = 0; i <= runs; i++) {
    await page.goto(`${o.url}/ui${v.path}`);
    await v.ready(page).waitFor({ timeout: 30_000 });
    const t = await page.evaluate(() => performance.now());
    if (i > 0) ms.push(t);
  }
  ms.sort((a, b) => a - b);
  results.push({ view: v.name, path: `/ui${v.path}`, runs, median_ms: ms[Math.floor(ms.length / 2)], max_ms: ms[ms.length - 1] });
}
await browser.close();
console.log(JSON.stringify({ results, errors }, null, 2));
