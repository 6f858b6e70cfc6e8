// Prints the first-load JavaScript and CSS of the built dashboard, gzipped, and fails past the
// budget: what index.html loads (its scripts, styles and module preloads), not lazy chunks.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const dir = new URL("../dist/app/", import.meta.url).pathname;
const budget = 150 * 1024;
const html = readFileSync(join(dir, "index.html"), "utf8");
const files = [...html.matchAll(/(?:src|href)="\/ui\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
let js = 0;
let css = 0;
for (const f of files) {
  const size = gzipSync(readFileSync(join(dir, f)), { level: 9 }).length;
  if (f.endsWith(".js")) js += size;
  else css += size;
  console.log(`  ${f}  ${(size / 1024).toFixed(1)} KB gzipped`);
}
console.log(`first-load JavaScript: ${(js / 1024).toFixed(1)} KB gzipped (budget ${budget / 1024} KB); CSS: ${(css / 1024).toFixed(1)} KB gzipped`);
if (js > budget) {
  console.error("first-load JavaScript is over budget");
  process.exit(1);
}
