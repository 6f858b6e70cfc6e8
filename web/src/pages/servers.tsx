import { useEffect, useState } from "preact/hooks";

import { api, ok, useLoad, type Schemas } from "../api";
import { Downloads, ErrorText, Loaded, PageTitle, Pager, RiskBadge, Time, count, counted, levels, useAction } from "../components";
import { Link, navigate, query } from "../router";
import { useCan } from "../session";

const rulesDoc = "https://github.com/mcpwarden/mcpwarden/blob/main/docs/risk-rules.md";
type Level = Schemas["RiskLevel"];
type Status = Schemas["ServerStatus"];

const asLevel = (v: string | null): Level | undefined => (levels as readonly string[]).includes(v ?? "") ? (v as Level) : undefined;
const asStatus = (v: string | null): Status | undefined => (v === "active" || v === "dormant" ? v : undefined);
const positive = (v: string | null, fallback: number, max: number) => {
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : fallback;
};

export function Servers({ query: q }: { query: URLSearchParams }) {
  const filters = {
    risk_level: asLevel(q.get("risk_level")),
    status: asStatus(q.get("status")),
    agent_id: q.get("agent_id") || undefined,
    search: q.get("search") || undefined,
  };
  // The order is not a filter: it changes no count and no download's rows, only their order.
  const sort = q.get("sort") === "name" ? ("name" as const) : undefined;
  const page = positive(q.get("page"), 1, 1_000_000);
  const pageSize = positive(q.get("page_size"), 25, 100);
  const filtered = Object.values(filters).some((v) => v !== undefined);
  const key = JSON.stringify([filters, sort, page, pageSize]);
  const list = useLoad(() => ok(api.GET("/mcp/servers", { params: { query: { ...filters, sort, page, page_size: pageSize } } })), [key]);
  const set = (change: Record<string, string | undefined>) =>
    navigate("/servers" + query({ ...filters, sort, page_size: pageSize === 25 ? undefined : pageSize, ...change, page: undefined }));
  const [search, setSearch] = useState(filters.search ?? "");
  useEffect(() => setSearch(filters.search ?? ""), [filters.search]);

  return (
    <>
      <PageTitle title="Servers" />
      <form
        class="filters"
        role="search"
        aria-label="Filter servers"
        onSubmit={(e) => {
          e.preventDefault();
          set({ search: search.trim() || undefined });
        }}
      >
        <label>
          Risk level
          <select value={filters.risk_level ?? ""} onChange={(e) => set({ risk_level: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">Any level</option>
            {levels.map((l) => (
              <option value={l}>{l}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={filters.status ?? ""} onChange={(e) => set({ status: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">Any status</option>
            <option value="active">active</option>
            <option value="dormant">dormant</option>
          </select>
        </label>
        <label>
          Order
          <select value={sort ?? "risk"} onChange={(e) => set({ sort: (e.target as HTMLSelectElement).value === "name" ? "name" : undefined })}>
            <option value="risk">Riskiest first</option>
            <option value="name">By name</option>
          </select>
        </label>
        <label>
          Search
          <input type="search" name="search" value={search} maxLength={200} placeholder="name or type" onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Search</button>
        {filters.agent_id && (
          <p class="chip">
            Only the agent of {list.data?.items[0]?.agent_hostname ?? <code>{filters.agent_id.slice(0, 8)}</code>}{" "}
            <Link href={"/servers" + query({ ...filters, sort, agent_id: undefined })}>Show every agent</Link>
          </p>
        )}
      </form>
      <Loaded load={list} label="servers">
        {(l) => (
          <>
            {l.items.length === 0 ? (
              <p class="muted">No server matches.</p>
            ) : (
              <div class="table-wrap">
                <table class="rows">
                  <caption class="order">{sort === "name" ? "Servers by name, then riskiest first" : "Servers, riskiest first (by score), then by name"}</caption>
                  <thead>
                    <tr>
                      <th scope="col" aria-sort={sort === "name" ? "ascending" : undefined}>
                        Server
                      </th>
                      <th scope="col">Risk</th>
                      <th scope="col" aria-sort={sort === "name" ? undefined : "descending"}>
                        Score
                      </th>
                      <th scope="col" class="wide">Type</th>
                      <th scope="col">Host</th>
                      <th scope="col" class="wide">Status</th>
                      <th scope="col" class="wide">Last seen</th>
                    </tr>
                  </thead>
                  <tbody>
                    {l.items.map((s) => (
                      <tr>
                        <th scope="row">
                          <Link href={`/servers/${s.id}`}>{s.server_name}</Link>
                          {s.is_verified && <span class="verified"> verified</span>}
                        </th>
                        <td>
                          <RiskBadge level={s.risk_level} />
                        </td>
                        <td>{s.risk_score}</td>
                        <td class="wide mono">{s.server_type}</td>
                        <td>{s.agent_hostname ?? "—"}</td>
                        <td class="wide">{s.status}</td>
                        <td class="wide">
                          <Time iso={s.last_seen_at} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {l.total > 0 && (
              <Downloads
                what={filtered ? `the ${counted(l.total, "matching server")}` : `all ${counted(l.total, "server")}`}
                name="mcpwarden-servers"
                get={(format) => ok(api.GET("/mcp/servers/export", { params: { query: { format, ...filters, sort } }, parseAs: "blob" }))}
              />
            )}
            <Pager
              path="/servers"
              label="Servers"
              params={{ risk_level: filters.risk_level, status: filters.status, agent_id: filters.agent_id, search: filters.search, sort }}
              page={page}
              pageSize={pageSize}
              total={l.total}
            />
          </>
        )}
      </Loaded>
    </>
  );
}

export function ServerPage({ id }: { id: string }) {
  const server = useLoad(() => ok(api.GET("/mcp/servers/{server_id}", { params: { path: { server_id: id } } })), [id]);
  const verify = useAction();
  const can = useCan();
  return (
    <Loaded load={server} label="the server">
      {(s) => (
        <>
          <PageTitle title={s.server_name}>
            {can("PATCH /mcp/servers/{server_id}") && (
            <button
              type="button"
              class={s.is_verified ? "" : "primary"}
              disabled={verify.busy}
              onClick={() =>
                void verify
                  .run(() => ok(api.PATCH("/mcp/servers/{server_id}", { params: { path: { server_id: id } }, body: { is_verified: !s.is_verified } })).then(() => {}))
                  .then((done) => done && server.reload())
              }
            >
              {s.is_verified ? "Remove verification" : "Mark verified"}
            </button>
            )}
          </PageTitle>
          <ErrorText error={verify.error} />
          <p class="lead">
            <RiskBadge level={s.risk_level} /> score <strong>{s.risk_score}</strong> of 100 · {s.status} ·{" "}
            {s.is_verified ? (
              <span class="verified">
                verified <Time iso={s.verified_at} />
              </span>
            ) : (
              "not verified"
            )}
          </p>
          <section class="card" aria-labelledby="why-title">
            <h2 id="why-title">Why it is {s.risk_level} risk</h2>
            {s.risk_factors.length === 0 ? (
              <p class="muted">No rule matched this server.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Severity</th>
                    <th scope="col">Rule</th>
                    <th scope="col">Finding</th>
                    <th scope="col" class="wide">
                      Evidence
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {s.risk_factors.map((f) => (
                    <tr>
                      <td>
                        <RiskBadge level={f.severity} />
                      </td>
                      <td>
                        <a href={`${rulesDoc}#${f.id.toLowerCase()}`} rel="noopener noreferrer" target="_blank">
                          {f.id}
                        </a>
                      </td>
                      <td>
                        <strong>{f.title}</strong>
                        <br />
                        {f.detail}
                        {/* On a narrow screen the evidence column is hidden and shown here. */}
                        <span class="narrow-only">
                          Evidence: <span class="mono">{f.evidence}</span>
                        </span>
                      </td>
                      <td class="wide mono">{f.evidence}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <div class="grid2">
            <section class="card" aria-labelledby="config-title">
              <h2 id="config-title">Configuration as reported</h2>
              <dl class="facts">
                <dt>Command</dt>
                <dd class="mono">{s.command || "—"}</dd>
                <dt>Type</dt>
                <dd class="mono">{s.server_type}</dd>
                <dt>Transport</dt>
                <dd>{s.transport ?? "—"}</dd>
                <dt>URL</dt>
                <dd class="mono">{s.url ?? "—"}</dd>
                <dt>Scope</dt>
                <dd class="mono">{s.scope || "—"}</dd>
                <dt>Environment variables</dt>
                <dd class="mono">{s.env_vars.length ? s.env_vars.join(", ") : "none"}</dd>
                <dt>Client</dt>
                <dd>{s.client ?? "—"}</dd>
                <dt>Configuration file</dt>
                <dd class="mono">{s.config_path ?? "—"}</dd>
                <dt>Enabled</dt>
                <dd>{s.enabled === false ? "no" : s.enabled ? "yes" : "—"}</dd>
              </dl>
            </section>
            <section class="card" aria-labelledby="where-title">
              <h2 id="where-title">Where it runs</h2>
              <dl class="facts">
                <dt>Host</dt>
                <dd>{s.agent_hostname ?? "—"}</dd>
                <dt>Agent</dt>
                <dd>
                  <Link href={`/servers${query({ agent_id: s.agent_id })}`}>Every server of this agent</Link>
                </dd>
                <dt>First seen</dt>
                <dd>
                  <Time iso={s.first_seen_at} />
                </dd>
                <dt>Last seen</dt>
                <dd>
                  <Time iso={s.last_seen_at} />
                </dd>
              </dl>
            </section>
          </div>
        </>
      )}
    </Loaded>
  );
}
