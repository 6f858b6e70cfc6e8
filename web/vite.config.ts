import { defineConfig } from "vite";

// The dashboard is served by `mcpwarden serve` under /ui/ (impl/webui); `npm run dev` serves it
// on :5173 and sends API calls to a server on :8000.
const api = "http://localhost:8000";

export default defineConfig({
  base: "/ui/",
  resolve: {
    // @mcpwarden/client is used from its TypeScript source (its "source" export).
    conditions: ["source"],
  },
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  build: {
    outDir: "dist/app",
    emptyOutDir: true,
    target: "es2022",
    // No inline assets: the Content-Security-Policy allows only files from the server.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: Object.fromEntries(["/auth", "/agents", "/enrollment-secrets", "/api-tokens", "/audit-events", "/mcp", "/dashboard", "/alerts", "/webhooks", "/health"].map((p) => [p, api])),
  },
});
