// Starts bin/mcpwarden on a fresh built-in PostgreSQL in a temporary folder, for the browser
// tests, and stops it (and removes the folder) afterwards.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer as createHTTPServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repo = new URL("../../", import.meta.url).pathname;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Starts the server; returns its URL and a stop function. extraEnv adds settings. */
export async function startServer(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), "mcpwarden-e2e-"));
  // The built-in PostgreSQL runs as the postgres user under root and must pass through.
  chmodSync(dir, 0o711);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logs = [];
  const child = spawn(join(repo, "bin/mcpwarden"), ["serve"], {
    env: {
      ...process.env,
      MCPWARDEN_ADDR: `127.0.0.1:${port}`,
      MCPWARDEN_DATA_DIR: join(dir, "data"),
      MCPWARDEN_LOG_LEVEL: "warn",
      MCPWARDEN_PG_SHARED_BUFFERS_MB: "128",
      // The trend's point of the day is written within a second of a change.
      MCPWARDEN_TREND_SNAPSHOT_INTERVAL: "1s",
      DATABASE_URL: "",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => logs.push(String(d)));
  child.stderr.on("data", (d) => logs.push(String(d)));
  let stopping = false;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  // A server that dies under the tests says why, and with what signal or status.
  child.on("exit", (code, signal) => {
    if (!stopping) console.error(`mcpwarden exited during the tests (${signal ?? `status ${code}`}):\n${logs.join("")}`);
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`mcpwarden exited with ${child.exitCode}:\n${logs.join("")}`);
    }
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`mcpwarden did not become healthy:\n${logs.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    dataDir: join(dir, "data"),
    logs,
    async stop() {
      stopping = true;
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A webhook endpoint on loopback that records the bodies it receives. */
export async function startWebhookReceiver() {
  const received = [];
  const server = createHTTPServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/mcpwarden`,
    received,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
