// The client's own behaviour against a fake server: form login, one refresh for any number of
// requests that meet an expired access token (a refresh token works once), the retried requests,
// problem documents as ApiError, and the end of a session whose refresh token is refused.
// Runs on the build (npm test builds it first).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ApiError, createMcpwardenClient, ok } from "../dist/index.js";

const json = (status, body, type = "application/json") => new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
const problem = (status, detail) => json(status, { type: "about:blank", title: "x", status, detail }, "application/problem+json");

/** A fake API: tokens are "access-N" and "refresh-N"; valid holds the one access token it accepts. */
function fakeServer() {
  const s = { calls: [], refreshes: 0, valid: "access-1", refreshToken: "refresh-1", refusedRefresh: false };
  s.fetch = async (req) => {
    const url = new URL(req.url);
    const body = req.method === "GET" ? "" : await req.text();
    s.calls.push({ method: req.method, path: url.pathname, auth: req.headers.get("Authorization"), type: req.headers.get("Content-Type"), body });
    if (url.pathname === "/auth/login") {
      return json(200, { access_token: "access-1", refresh_token: "refresh-1", token_type: "bearer" });
    }
    if (url.pathname === "/auth/refresh") {
      s.refreshes++;
      const sent = JSON.parse(body).refresh_token;
      if (s.refusedRefresh || sent !== s.refreshToken) return problem(401, "Invalid refresh token.");
      const n = s.refreshes + 1;
      s.valid = `access-${n}`;
      s.refreshToken = `refresh-${n}`;
      await new Promise((r) => setTimeout(r, 10));
      return json(200, { access_token: s.valid, refresh_token: s.refreshToken, token_type: "bearer" });
    }
    if (url.pathname === "/auth/logout") return new Response(null, { status: 204 });
    if (req.headers.get("Authorization") !== `Bearer ${s.valid}`) return problem(401, "Could not validate credentials.");
    if (url.pathname === "/dashboard/stats") {
      return json(200, { total_servers: 1, critical_count: 1, high_count: 0, medium_count: 0, low_count: 0, active_agents: 1, unresolved_alerts: 0 });
    }
    if (url.pathname === "/agents/" && req.method === "POST") return problem(400, "Invalid name.");
    return problem(404, "No such endpoint.");
  };
  return s;
}

describe("@mcpwarden/client", () => {
  it("logs in with the form the API takes and sends the access token", async () => {
    const s = fakeServer();
    const c = createMcpwardenClient({ baseUrl: "http://api.test", fetch: s.fetch });
    await c.login("jane@example.com", "correct horse battery staple");
    const stats = await ok(c.api.GET("/dashboard/stats"));
    assert.equal(stats.critical_count, 1);
    assert.equal(s.calls[0].type, "application/x-www-form-urlencoded");
    assert.equal(s.calls[0].body, "username=jane%40example.com&password=correct+horse+battery+staple");
    assert.equal(s.calls[1].auth, "Bearer access-1");
  });

  it("refreshes once for concurrent requests whose token expired, and sends them again", async () => {
    const s = fakeServer();
    const saved = [];
    const c = createMcpwardenClient({ baseUrl: "http://api.test", fetch: s.fetch, refreshTokenStore: { load: () => null, save: (t) => saved.push(t) } });
    await c.login("jane@example.com", "pw");
    s.valid = "access-1-expired"; // the server no longer takes access-1
    const results = await Promise.all([1, 2, 3].map(() => ok(c.api.GET("/dashboard/stats"))));
    assert.equal(results.length, 3);
    assert.equal(s.refreshes, 1);
    assert.deepEqual(saved, ["refresh-1", "refresh-2"]);
    const retried = s.calls.filter((x) => x.path === "/dashboard/stats" && x.auth === "Bearer access-2");
    assert.equal(retried.length, 3);
  });

  it("starts from a stored refresh token with no access token", async () => {
    const s = fakeServer();
    const c = createMcpwardenClient({ baseUrl: "http://api.test", fetch: s.fetch, refreshTokenStore: { load: () => "refresh-1", save: () => {} } });
    assert.equal(c.signedIn(), true);
    await ok(c.api.GET("/dashboard/stats"));
    assert.deepEqual(
      s.calls.map((x) => x.path),
      ["/auth/refresh", "/dashboard/stats"],
    );
  });

  it("ends the session when the refresh token is refused", async () => {
    const s = fakeServer();
    let ended = 0;
    const c = createMcpwardenClient({ baseUrl: "http://api.test", fetch: s.fetch, onSessionEnd: () => ended++ });
    await c.login("jane@example.com", "pw");
    s.valid = "someone-else";
    s.refusedRefresh = true;
    await assert.rejects(ok(c.api.GET("/dashboard/stats")), (e) => e instanceof ApiError && e.status === 401);
    assert.equal(ended, 1);
    assert.equal(c.signedIn(), false);
  });

  it("turns a problem document into an ApiError with its detail", async () => {
    const s = fakeServer();
    const c = createMcpwardenClient({ baseUrl: "http://api.test", fetch: s.fetch });
    await c.login("jane@example.com", "pw");
    await assert.rejects(ok(c.api.POST("/agents/", { body: { name: "" } })), (e) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 400);
      assert.equal(e.message, "Invalid name.");
      assert.equal(e.problem.detail, "Invalid name.");
      return true;
    });
  });

  it("revokes the login on logout and forgets the tokens", async () => {
    const s = fakeServer();
    const c = createMcpwardenClient({ baseUrl: "http://api.test", fetch: s.fetch });
    await c.login("jane@example.com", "pw");
    await c.logout();
    assert.equal(c.signedIn(), false);
    const out = s.calls.find((x) => x.path === "/auth/logout");
    assert.deepEqual(JSON.parse(out.body), { refresh_token: "refresh-1" });
  });
});
