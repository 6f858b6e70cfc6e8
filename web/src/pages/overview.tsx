import { api, ok, useLoad, type Load, type Schemas } from "../api";
import { Loaded, PageTitle, RiskBadge, Time, count, levels, type Level } from "../components";
import { Link, query } from "../router";
import { useCan } from "../session";

export function Overview() {
  const can = useCan();
  // Every request of the page starts at once: one round trip after sign-in, not one per section.
  const stats = useLoad(() => ok(api.GET("/dashboard/stats")), []);
  const agents = useLoad(() => ok(api.GET("/agents/", { params: { query: { page_size: 1 } } })), []);
  const loads: Loads = {
    dist: useLoad(() => ok(api.GET("/dashboard/risk-distribution")), []),
    trend: useLoad(() => ok(api.GET("/dashboard/trend", { params: { query: { days: 30 } } })), []),
    top: useLoad(() => ok(api.GET("/dashboard/top-risks", { params: { query: { limit: 5 } } })), []),
    alerts: useLoad(() => ok(api.GET("/alerts/", { params: { query: { dismissed: false, page_size: 5 } } })), []),
  };
  return (
    <>
      <PageTitle title="Overview" />
      <Loaded load={stats} label="counts">
        {(s) =>
          s.total_servers === 0 && agents.data?.total === 0 ? (
            <section class="card empty">
              <h2>No agent has reported yet</h2>
              <p>
                mcpwarden learns about MCP servers from its agent, which runs on each laptop. Enrol the first one to see what your
                organization's machines run.
              </p>
              {can("POST /agents/") ? (
                <Link class="button primary" href="/agents?enrol=1">
                  Enrol your first agent
                </Link>
              ) : (
                <p>An admin or a member of your organization enrols agents.</p>
              )}
            </section>
          ) : (
            <Dashboard stats={s} agentsTotal={agents.data?.total} loads={loads} />
          )
        }
      </Loaded>
    </>
  );
}

interface Loads {
  dist: Load<Schemas["RiskDistribution"]>;
  trend: Load<Schemas["RiskTrend"]>;
  top: Load<Schemas["McpServer"][]>;
  alerts: Load<Schemas["AlertList"]>;
}

function Dashboard({ stats, agentsTotal, loads }: { stats: Schemas["DashboardStats"]; agentsTotal: number | undefined; loads: Loads }) {
  const byLevel: Record<Level, number> = { critical: stats.critical_count, high: stats.high_count, medium: stats.medium_count, low: stats.low_count };
  return (
    <>
      <section aria-label="Counts" class="tiles">
        {levels.map((l) => (
          <Link class={`tile tile-${l}`} href={`/servers${query({ risk_level: l, status: "active" })}`}>
            <span class="tile-n">{count(byLevel[l])}</span>
            <span class="tile-label">{l} risk servers</span>
          </Link>
        ))}
        <Link class="tile" href="/agents?status=online">
          <span class="tile-n">{count(stats.active_agents)}</span>
          <span class="tile-label">agents online</span>
        </Link>
        <Link class="tile" href="/agents?status=offline">
          <span class="tile-n">{agentsTotal === undefined ? "…" : count(Math.max(0, agentsTotal - stats.active_agents))}</span>
          <span class="tile-label">agents offline</span>
        </Link>
        <Link class="tile" href={`/alerts${query({ dismissed: "false" })}`}>
          <span class="tile-n">{count(stats.unresolved_alerts)}</span>
          <span class="tile-label">open alerts</span>
        </Link>
      </section>
      <div class="grid2">
        <Distribution dist={loads.dist} />
        <Trend trend={loads.trend} />
        <TopRisks top={loads.top} />
        <RecentAlerts alerts={loads.alerts} />
      </div>
    </>
  );
}

function Distribution({ dist }: { dist: Loads["dist"] }) {
  return (
    <section class="card" aria-labelledby="dist-title">
      <h2 id="dist-title">Risk distribution</h2>
      <Loaded load={dist} label="the distribution">
        {(d) => {
          const max = Math.max(1, ...d.levels.map((b) => b.count));
          return (
            <>
              <svg class="bars" viewBox="0 0 300 120" preserveAspectRatio="xMinYMid meet" role="img" aria-label={`Active servers by risk level: ${d.levels.map((b) => `${b.risk_level} ${b.count}`).join(", ")}`}>
                {d.levels.map((b, i) => (
                  <g>
                    <text x="0" y={i * 30 + 19} class="bar-label">
                      {b.risk_level}
                    </text>
                    <rect x="70" y={i * 30 + 5} height="20" width={Math.max(1, (b.count / max) * 190)} class={`fill-${b.risk_level}`} />
                    <text x={75 + (b.count / max) * 190} y={i * 30 + 19} class="bar-value">
                      {count(b.count)}
                    </text>
                  </g>
                ))}
              </svg>
              <table>
                <caption class="sr-only">Active servers by risk level, with the commonest server types</caption>
                <thead>
                  <tr>
                    <th scope="col">Level</th>
                    <th scope="col">Servers</th>
                    <th scope="col">Commonest types</th>
                  </tr>
                </thead>
                <tbody>
                  {d.levels.map((b) => (
                    <tr>
                      <th scope="row">
                        <RiskBadge level={b.risk_level} />
                      </th>
                      <td>
                        <Link href={`/servers${query({ risk_level: b.risk_level, status: "active" })}`}>{count(b.count)}</Link>
                      </td>
                      <td>
                        {b.top_server_types.map((t, i) => (
                          <>
                            {i > 0 && ", "}
                            <Link href={`/servers${query({ risk_level: b.risk_level, status: "active", search: t.server_type })}`}>{t.server_type}</Link> ({count(t.count)})
                          </>
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          );
        }}
      </Loaded>
    </section>
  );
}

function Trend({ trend }: { trend: Loads["trend"] }) {
  return (
    <section class="card" aria-labelledby="trend-title">
      <h2 id="trend-title">Servers by risk level, last 30 days</h2>
      <Loaded load={trend} label="the trend">
        {(t) => {
          if (t.points.length === 0) {
            return <p class="muted">The first daily snapshot is taken within the hour; the trend starts then.</p>;
          }
          const w = 300;
          const h = 130;
          const left = 4;
          const bottom = h - 16;
          const max = Math.max(1, ...t.points.flatMap((p) => levels.map((l) => p[l])));
          const last = t.points[t.points.length - 1]!.date;
          const end = Date.parse(last);
          const start = end - 29 * 86400000;
          const x = (date: string) => left + ((Date.parse(date) - start) / (29 * 86400000)) * (w - left - 6);
          const y = (n: number) => bottom - (n / max) * (bottom - 16);
          const day = (ms: number) => new Date(ms).toISOString().slice(5, 10);
          return (
            <>
              <svg class="trend" viewBox={`0 0 ${w} ${h}`} role="img" aria-label="Trend of active servers by risk level; the table below lists the values">
                <line class="gridline" x1={left} x2={w - 6} y1={y(max)} y2={y(max)} />
                <line class="gridline" x1={left} x2={w - 6} y1={bottom} y2={bottom} />
                <text class="axis" x={left} y={y(max) - 3}>
                  {count(max)}
                </text>
                <text class="axis" x={left} y={h - 3}>
                  {day(start)}
                </text>
                <text class="axis" x={w - 6} y={h - 3} text-anchor="end">
                  {day(end)}
                </text>
                {levels.map((l) => (
                  <>
                    <polyline class={`line-${l}`} points={t.points.map((p) => `${x(p.date)},${y(p[l])}`).join(" ")} />
                    {t.points.map((p) => (
                      <circle class={`fill-${l}`} cx={x(p.date)} cy={y(p[l])} r="2.5" />
                    ))}
                  </>
                ))}
              </svg>
              <p class="legend">
                {levels.map((l) => (
                  <span class={`key key-${l}`}>{l}</span>
                ))}
              </p>
              <details>
                <summary>The trend as a table</summary>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Day</th>
                      {levels.map((l) => (
                        <th scope="col">{l}</th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {t.points.map((p) => (
                      <tr>
                        <th scope="row">{p.date}</th>
                        {levels.map((l) => (
                          <td>{count(p[l])}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </details>
            </>
          );
        }}
      </Loaded>
    </section>
  );
}

function TopRisks({ top }: { top: Loads["top"] }) {
  return (
    <section class="card" aria-labelledby="top-title">
      <h2 id="top-title">Top risks</h2>
      <Loaded load={top} label="top risks">
        {(servers) =>
          servers.length === 0 ? (
            <p class="muted">No active server.</p>
          ) : (
            <ol class="list">
              {servers.map((s) => (
                <li>
                  <RiskBadge level={s.risk_level} /> <Link href={`/servers/${s.id}`}>{s.server_name}</Link>{" "}
                  <span class="muted">
                    score {s.risk_score} on {s.agent_hostname ?? "an unnamed host"}
                  </span>
                </li>
              ))}
            </ol>
          )
        }
      </Loaded>
      <Link href="/servers?status=active">All servers</Link>
    </section>
  );
}

function RecentAlerts({ alerts }: { alerts: Loads["alerts"] }) {
  return (
    <section class="card" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Recent alerts</h2>
      <Loaded load={alerts} label="alerts">
        {(list) =>
          list.items.length === 0 ? (
            <p class="muted">No open alert.</p>
          ) : (
            <ul class="list">
              {list.items.map((a) => (
                <li>
                  <RiskBadge level={a.severity} /> {a.server_id ? <Link href={`/servers/${a.server_id}`}>{a.title}</Link> : a.title}{" "}
                  <span class="muted">
                    <Time iso={a.created_at} />
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
      <Link href="/alerts?dismissed=false">All open alerts</Link>
    </section>
  );
}
