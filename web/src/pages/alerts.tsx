import { useState } from "preact/hooks";

import { api, ok, useLoad, type Schemas } from "../api";
import { Confirm, Downloads, ErrorText, Loaded, PageTitle, Pager, RiskBadge, Time, count, counted, levels, useAction } from "../components";
import { Link, navigate, query } from "../router";
import { useCan } from "../session";

type Level = Schemas["RiskLevel"];

export function Alerts({ query: q }: { query: URLSearchParams }) {
  const severityParam = q.get("severity");
  const severity = (levels as readonly string[]).includes(severityParam ?? "") ? (severityParam as Level) : undefined;
  const dismissedParam = q.get("dismissed") ?? "false";
  const dismissed = dismissedParam === "true" ? true : dismissedParam === "all" ? undefined : false;
  const page = Math.max(1, Number(q.get("page")) || 1);
  const pageSize = Math.min(100, Math.max(1, Number(q.get("page_size")) || 25));
  const key = JSON.stringify([severity, dismissed, page, pageSize]);
  const list = useLoad(() => ok(api.GET("/alerts/", { params: { query: { severity, dismissed, page, page_size: pageSize } } })), [key]);
  const action = useAction();
  const [confirming, setConfirming] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const params = { severity, dismissed: dismissedParam === "false" ? undefined : dismissedParam };
  const set = (change: Record<string, string | undefined>) => navigate("/alerts" + query({ ...params, ...change }));
  const what = `open ${severity ? `${severity} ` : ""}alerts`;
  const can = useCan();

  return (
    <>
      <PageTitle title="Alerts">
        {can("POST /alerts/dismiss-all") && dismissed === false && list.data && list.data.total > 0 && (
          <button type="button" onClick={() => setConfirming(true)}>
            Dismiss all {count(list.data.total)} {what}
          </button>
        )}
      </PageTitle>
      <form class="filters" aria-label="Filter alerts" onSubmit={(e) => e.preventDefault()}>
        <label>
          Show
          <select value={dismissedParam} onChange={(e) => set({ dismissed: (e.target as HTMLSelectElement).value === "false" ? undefined : (e.target as HTMLSelectElement).value })}>
            <option value="false">open alerts</option>
            <option value="true">dismissed alerts</option>
            <option value="all">all alerts</option>
          </select>
        </label>
        <label>
          Severity
          <select value={severity ?? ""} onChange={(e) => set({ severity: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">any severity</option>
            {levels.map((l) => (
              <option value={l}>{l}</option>
            ))}
          </select>
        </label>
      </form>
      {done && (
        <p role="status" class="ok">
          {done}
        </p>
      )}
      <ErrorText error={action.error} />
      <Loaded load={list} label="alerts">
        {(l) => (
          <>
            {l.items.length === 0 ? (
              <p class="muted">No alert matches.</p>
            ) : (
              <ul class="alerts">
                {l.items.map((a) => (
                  <li class="card">
                    <div>
                      <RiskBadge level={a.severity} /> <strong>{a.title}</strong>
                      <p>{a.message}</p>
                      <p class="muted">
                        <Time iso={a.created_at} />
                        {a.agent_hostname && <> · {a.agent_hostname}</>}
                        {a.server_id && (
                          <>
                            {" "}
                            · <Link href={`/servers/${a.server_id}`}>Open {a.server_name ?? "the server"}</Link>
                          </>
                        )}
                        {a.dismissed && (
                          <>
                            {" "}
                            · dismissed <Time iso={a.dismissed_at} />
                          </>
                        )}
                      </p>
                    </div>
                    {!a.dismissed && can("POST /alerts/{alert_id}/dismiss") && (
                      <button
                        type="button"
                        aria-label={`Dismiss: ${a.title}`}
                        disabled={action.busy}
                        onClick={() =>
                          void action.run(async () => {
                            await ok(api.POST("/alerts/{alert_id}/dismiss", { params: { path: { alert_id: a.id } } }));
                            setDone(`Dismissed: ${a.title}`);
                            list.reload();
                          })
                        }
                      >
                        Dismiss
                      </button>
                    )}
                  </li>
                ))}
              </ul>
            )}
            {l.total > 0 && (
              <Downloads
                what={`the ${counted(l.total, `${dismissed === undefined ? "" : dismissed ? "dismissed " : "open "}${severity ? `${severity} ` : ""}alert`)}`}
                name="mcpwarden-alerts"
                get={(format) => ok(api.GET("/alerts/export", { params: { query: { format, severity, dismissed } }, parseAs: "blob" }))}
              />
            )}
            <Pager path="/alerts" label="Alerts" params={params as Record<string, string | undefined>} page={page} pageSize={pageSize} total={l.total} />
          </>
        )}
      </Loaded>
      <Confirm
        open={confirming}
        title={`Dismiss every ${what}?`}
        confirm={`Dismiss ${what}`}
        onCancel={() => setConfirming(false)}
        onConfirm={() => {
          setConfirming(false);
          void action.run(async () => {
            // The filter is sent as it is shown: a severity only when one is chosen.
            const r = await ok(api.POST("/alerts/dismiss-all", { params: { query: severity ? { severity } : {} } }));
            setDone(`Dismissed ${count(r.dismissed)} ${what}.`);
            list.reload();
          });
        }}
      >
        <p>This dismisses every {what}, on every page, including ones raised since this page loaded.</p>
      </Confirm>
    </>
  );
}
