// Compiled by `tsc --strict` in CI (`npm run check`): one call of every operation of
// openapi.yaml through the client. The mapped type makes a new operation without a call here,
// or a call that no longer matches the spec, a compile error.
import { createMcpwardenClient, ok, type Api, type operations } from "../src/index.js";

const id = "00000000-0000-0000-0000-000000000000";
const agentKey = { "X-API-Key": "mcp_sk_example" };

export const everyOperation: { [K in keyof operations]: (api: Api) => Promise<unknown> } = {
  getHealth: (api) => ok(api.GET("/health")),
  registerUser: (api) =>
    ok(api.POST("/auth/register", { body: { email: "jane@example.com", password: "correct horse battery staple", full_name: "Jane Doe", organization_name: "Acme" } })),
  login: (api) =>
    ok(
      api.POST("/auth/login", {
        body: { username: "jane@example.com", password: "correct horse battery staple" },
        bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      }),
    ),
  refreshTokens: (api) => ok(api.POST("/auth/refresh", { body: { refresh_token: "t" } })),
  logout: (api) => ok(api.POST("/auth/logout", { body: { refresh_token: "t" } })),
  acceptInvitation: (api) => ok(api.POST("/auth/invitations/accept", { body: { setup_token: "t", password: "a new long password" } })),
  getCurrentUser: (api) => ok(api.GET("/auth/me")),
  updateCurrentUser: (api) => ok(api.PATCH("/auth/me", { body: { full_name: "Jane Smith" } })),
  changePassword: (api) => ok(api.PUT("/auth/me/password", { body: { current_password: "old", new_password: "a new long password" } })),
  getOrganization: (api) => ok(api.GET("/auth/organization")),
  updateOrganization: (api) => ok(api.PATCH("/auth/organization", { body: { name: "Acme", alert_email: "security@acme.example" } })),
  listMembers: (api) => ok(api.GET("/auth/organization/members")),
  createMember: (api) => ok(api.POST("/auth/organization/members", { body: { email: "sam@example.com", full_name: "Sam", role: "member" } })),
  updateMember: (api) => ok(api.PATCH("/auth/organization/members/{user_id}", { params: { path: { user_id: id } }, body: { role: "admin" } })),
  deleteMember: (api) => ok(api.DELETE("/auth/organization/members/{user_id}", { params: { path: { user_id: id } } })),
  listAgents: (api) => ok(api.GET("/agents/", { params: { query: { status: "online", page: 1, page_size: 25 } } })),
  createAgent: (api) => ok(api.POST("/agents/", { body: { name: "My Laptop" } })),
  agentHeartbeat: (api) => ok(api.POST("/agents/heartbeat", { headers: agentKey, body: { hostname: "laptop.local", os_type: "linux" } })),
  deleteAgent: (api) => ok(api.DELETE("/agents/{agent_id}", { params: { path: { agent_id: id } } })),
  rotateAgentKey: (api) => ok(api.POST("/agents/{agent_id}/rotate-key", { params: { path: { agent_id: id } } })),
  reportServers: (api) =>
    ok(api.POST("/mcp/report", { headers: agentKey, body: { servers: [{ server_name: "filesystem", command: "npx @modelcontextprotocol/server-filesystem /home" }] } })),
  listServers: (api) =>
    ok(api.GET("/mcp/servers", { params: { query: { risk_level: "critical", status: "active", agent_id: id, search: "postgres", page: 1, page_size: 25 } } })),
  exportServers: (api) =>
    ok(api.GET("/mcp/servers/export", { params: { query: { format: "csv", risk_level: "critical", status: "active", agent_id: id, search: "postgres" } }, parseAs: "text" })),
  getServer: (api) => ok(api.GET("/mcp/servers/{server_id}", { params: { path: { server_id: id } } })),
  updateServer: (api) => ok(api.PATCH("/mcp/servers/{server_id}", { params: { path: { server_id: id } }, body: { is_verified: true } })),
  getDashboardStats: (api) => ok(api.GET("/dashboard/stats")),
  getRiskDistribution: (api) => ok(api.GET("/dashboard/risk-distribution")),
  getTopRisks: (api) => ok(api.GET("/dashboard/top-risks", { params: { query: { limit: 5 } } })),
  getRiskTrend: (api) => ok(api.GET("/dashboard/trend", { params: { query: { days: 30 } } })),
  listAlerts: (api) => ok(api.GET("/alerts/", { params: { query: { dismissed: false, severity: "critical", page: 1, page_size: 25 } } })),
  exportAlerts: (api) => ok(api.GET("/alerts/export", { params: { query: { format: "csv", dismissed: false, severity: "critical" } }, parseAs: "text" })),
  dismissAlert: (api) => ok(api.POST("/alerts/{alert_id}/dismiss", { params: { path: { alert_id: id } } })),
  dismissAllAlerts: (api) => ok(api.POST("/alerts/dismiss-all", { params: { query: { severity: "high" } } })),
  listWebhooks: (api) => ok(api.GET("/webhooks")),
  createWebhook: (api) => ok(api.POST("/webhooks", { body: { url: "https://hooks.example.com/mcpwarden" } })),
  deleteWebhook: (api) => ok(api.DELETE("/webhooks/{webhook_id}", { params: { path: { webhook_id: id } } })),
  testWebhook: (api) => ok(api.POST("/webhooks/{webhook_id}/test", { params: { path: { webhook_id: id } } })),
  listWebhookDeliveries: (api) => ok(api.GET("/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: id } } })),
  enrollAgent: (api) =>
    ok(api.POST("/agents/enroll", { body: { enrollment_secret: "mcp_es_example", machine_id: "0123456789abcdef0123", hostname: "laptop.local" } })),
  listEnrollmentSecrets: (api) => ok(api.GET("/enrollment-secrets", { params: { query: { page: 1, page_size: 25 } } })),
  createEnrollmentSecret: (api) => ok(api.POST("/enrollment-secrets", { body: { name: "Engineering laptops" } })),
  revokeEnrollmentSecret: (api) => ok(api.DELETE("/enrollment-secrets/{enrollment_id}", { params: { path: { enrollment_id: id } } })),
  rotateEnrollmentSecret: (api) => ok(api.POST("/enrollment-secrets/{enrollment_id}/rotate", { params: { path: { enrollment_id: id } } })),
  listApiTokens: (api) => ok(api.GET("/api-tokens")),
  createApiToken: (api) => ok(api.POST("/api-tokens", { body: { name: "siem", scopes: ["read"] } })),
  revokeApiToken: (api) => ok(api.DELETE("/api-tokens/{integration_id}", { params: { path: { integration_id: id } } })),
  listAuditEvents: (api) => ok(api.GET("/audit-events", { params: { query: { action: "member.role_changed", limit: 50 } } })),
  exportAuditEvents: (api) => ok(api.GET("/audit-events/export", { params: { query: { format: "ndjson", action: "member.role_changed" } }, parseAs: "text" })),
  updateAlert: (api) => ok(api.PATCH("/alerts/{alert_id}", { params: { path: { alert_id: id } }, body: { dismissed: true, reason: "accepted risk" } })),
};

// The typed results: a server's level is one of the spec's enum, a list has its items.
export async function typedResults(): Promise<string> {
  const client = createMcpwardenClient({ baseUrl: "http://localhost:8000" });
  await client.login("jane@example.com", "correct horse battery staple");
  const list = await ok(client.api.GET("/mcp/servers", { params: { query: { risk_level: "critical" } } }));
  const level: "critical" | "high" | "medium" | "low" = list.items[0]?.risk_level ?? "low";
  const trend = await ok(client.api.GET("/dashboard/trend"));
  const points: number = trend.points.length;
  return `${level} ${points} ${list.total}`;
}
