import { api, ok, useLoad } from "../api";
import { Downloads, Loaded, PageTitle, Time } from "../components";
import { Link, navigate, query } from "../router";

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const actionPattern = /^[a-z_]+\.[a-z_]+$/;
const targetPattern = /^[0-9A-Za-z._:-]{1,200}$/;
const cursorPattern = /^[0-9A-Za-z_-]{1,200}$/;
const valid = (v: string | null, re: RegExp) => (v && re.test(v) ? v : undefined);

/** The organization's audit log (admins): newest first, filtered by actor, action and target, all in the URL. */
export function Audit({ query: q }: { query: URLSearchParams }) {
  const filters = {
    actor_id: valid(q.get("actor_id"), uuid),
    action: valid(q.get("action"), actionPattern),
    target_id: valid(q.get("target_id"), targetPattern),
  };
  const cursor = valid(q.get("cursor"), cursorPattern);
  const key = JSON.stringify([filters, cursor]);
  const page = useLoad(() => ok(api.GET("/audit-events", { params: { query: { ...filters, cursor, limit: 50 } } })), [key]);
  // People are shown by name: the first 100 members (an organization's usual size) name the events' users.
  const members = useLoad(() => ok(api.GET("/auth/organization/members", { params: { query: { page_size: 100 } } })), []);
  const names = new Map((members.data?.items ?? []).map((m) => [m.id, m.full_name]));
  const who = (type: string, id: string) => (type === "user" && names.get(id)) || `${type} ${id.slice(0, 8)}`;
  const to = (change: Record<string, string | undefined>) => "/audit" + query({ ...filters, ...change });
  const filtered = Object.values(filters).some((v) => v !== undefined);

  return (
    <>
      <PageTitle title="Audit log" />
      <form
        class="filters"
        role="search"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          const action = String(new FormData(e.currentTarget as HTMLFormElement).get("action") ?? "").trim();
          navigate(to({ action: action || undefined, cursor: undefined }));
        }}
      >
        <label>
          Action
          <input type="search" name="action" key={filters.action ?? ""} defaultValue={filters.action ?? ""} pattern="[a-z_]+\.[a-z_]+" maxLength={64} placeholder="member.role_changed" />
        </label>
        <button type="submit">Filter</button>
        {filtered && (
          <p class="chip">
            {filters.actor_id && <>by {names.get(filters.actor_id) ?? filters.actor_id.slice(0, 8)} </>}
            {filters.action && <>action {filters.action} </>}
            {filters.target_id && <>target {filters.target_id.slice(0, 12)} </>}
            <Link href="/audit">Show every event</Link>
          </p>
        )}
      </form>
      <Loaded load={page} label="the audit log">
        {(p) => (
          <>
            {p.items.length === 0 ? (
              <p class="muted">No event matches.</p>
            ) : (
              <div class="table-wrap">
                <table class="rows">
                  <caption class="order">Audit events, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Action</th>
                      <th scope="col">Actor</th>
                      <th scope="col">Target</th>
                      <th scope="col" class="wide">From</th>
                      <th scope="col" class="wide">Change</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.items.map((e) => (
                      <tr>
                        <td class="nowrap">
                          <Time iso={e.at} />
                        </td>
                        <th scope="row">
                          <Link href={to({ action: e.action, cursor: undefined })}>{e.action}</Link>
                        </th>
                        <td>
                          {e.actor_id ? (
                            <Link href={to({ actor_id: e.actor_id, cursor: undefined })} aria-label={`Events by ${who(e.actor_type, e.actor_id)}`}>
                              {who(e.actor_type, e.actor_id)}
                            </Link>
                          ) : (
                            e.actor_type
                          )}
                        </td>
                        <td>
                          {e.target_id && targetPattern.test(e.target_id) ? (
                            <Link href={to({ target_id: e.target_id, cursor: undefined })} aria-label={`Events on ${who(e.target_type, e.target_id)}`}>
                              {who(e.target_type, e.target_id)}
                            </Link>
                          ) : (
                            e.target_type
                          )}
                        </td>
                        <td class="wide mono nowrap">{e.source_ip ?? "—"}</td>
                        <td class="wide mono summary">{Object.keys(e.summary).length ? JSON.stringify(e.summary) : "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {p.items.length > 0 && (
              <Downloads
                what={filtered ? "the matching events" : "the whole audit log"}
                name="mcpwarden-audit"
                get={(format) => ok(api.GET("/audit-events/export", { params: { query: { format, ...filters } }, parseAs: "blob" }))}
              />
            )}
            <nav class="pager" aria-label="Audit log pages">
              {cursor ? <Link href={to({ cursor: undefined })}>Newest events</Link> : <span class="muted" aria-hidden="true">Newest events</span>}
              {p.next_cursor ? <Link href={to({ cursor: p.next_cursor })}>Older events</Link> : <span class="muted" aria-hidden="true">Older events</span>}
            </nav>
          </>
        )}
      </Loaded>
    </>
  );
}
