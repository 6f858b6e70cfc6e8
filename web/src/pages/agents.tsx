import { useState } from "preact/hooks";

import { api, ok, useLoad, type Schemas } from "../api";
import { Confirm, CopyButton, ErrorText, Field, Loaded, PageTitle, Pager, Secret, Time, count, formValues, useAction } from "../components";
import { Link, navigate, query } from "../router";
import { useCan } from "../session";

function installCommands(key: string): { os: string; lang: string; text: string }[] {
  const url = window.location.origin;
  return [
    {
      os: "macOS",
      lang: "sh",
      text: `mkdir -p ~/.config/mcpwarden && umask 077
printf '{"url": "${url}", "api_key": "${key}"}' > ~/.config/mcpwarden/agent.json
sudo install -m 755 mcpwarden-agent-darwin-arm64 /usr/local/bin/mcpwarden-agent
mcpwarden-agent run   # or as a launchd agent: see cmd/mcpwarden-agent/README.md`,
    },
    {
      os: "Linux",
      lang: "sh",
      text: `sudo install -m 755 mcpwarden-agent-linux-amd64 /usr/local/bin/mcpwarden-agent
sudo install -d -m 700 /etc/mcpwarden
printf '{"url": "${url}", "api_key": "${key}"}' | sudo tee /etc/mcpwarden/agent.json >/dev/null
sudo chmod 600 /etc/mcpwarden/agent.json
sudo mcpwarden-agent run --all-users --config /etc/mcpwarden/agent.json   # or the systemd unit in the agent's README`,
    },
    {
      os: "Windows",
      lang: "powershell",
      text: `New-Item -ItemType Directory -Force "C:\\Program Files\\mcpwarden", "C:\\ProgramData\\mcpwarden" | Out-Null
Copy-Item .\\mcpwarden-agent-windows-amd64.exe "C:\\Program Files\\mcpwarden\\mcpwarden-agent.exe"
Set-Content -Path "C:\\ProgramData\\mcpwarden\\agent.json" -Value '{"url": "${url}", "api_key": "${key}"}'
icacls "C:\\ProgramData\\mcpwarden\\agent.json" /inheritance:r /grant:r "SYSTEM:F" "Administrators:F"
& "C:\\Program Files\\mcpwarden\\mcpwarden-agent.exe" run --all-users --config "C:\\ProgramData\\mcpwarden\\agent.json"`,
    },
  ];
}

function NewKey({ agent, onDone }: { agent: Schemas["AgentWithKey"]; onDone: () => void }) {
  const [os, setOs] = useState(0);
  const commands = installCommands(agent.api_key);
  return (
    <section class="card" aria-labelledby="key-title">
      <h2 id="key-title">Key of {agent.name}</h2>
      <Secret label="Agent key" value={agent.api_key} />
      <div role="tablist" aria-label="Install command for" class="tabs">
        {commands.map((c, i) => (
          <button type="button" role="tab" id={`tab-${i}`} aria-selected={os === i} aria-controls={`panel-${i}`} tabIndex={os === i ? 0 : -1} onClick={() => setOs(i)}
            onKeyDown={(e) => {
              if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
                const next = (i + (e.key === "ArrowRight" ? 1 : commands.length - 1)) % commands.length;
                setOs(next);
                document.getElementById(`tab-${next}`)?.focus();
              }
            }}
          >
            {c.os}
          </button>
        ))}
      </div>
      {commands.map((c, i) => (
        <div role="tabpanel" id={`panel-${i}`} aria-labelledby={`tab-${i}`} hidden={os !== i}>
          <pre tabIndex={0}>
            <code>{c.text}</code>
          </pre>
          <CopyButton text={c.text} label={`Copy the ${c.os} commands`} />
        </div>
      ))}
      <p>
        <button type="button" onClick={onDone}>
          Done
        </button>
      </p>
    </section>
  );
}

export function Agents({ query: q }: { query: URLSearchParams }) {
  const page = Math.max(1, Number(q.get("page")) || 1);
  const pageSize = Math.min(100, Math.max(1, Number(q.get("page_size")) || 25));
  const statusParam = q.get("status");
  const status = statusParam === "online" || statusParam === "offline" ? statusParam : undefined;
  const list = useLoad(() => ok(api.GET("/agents/", { params: { query: { status, page, page_size: pageSize } } })), [status, page, pageSize]);
  const [enrolling, setEnrolling] = useState(q.get("enrol") === "1");
  const [newKey, setNewKey] = useState<Schemas["AgentWithKey"] | null>(null);
  const [deleting, setDeleting] = useState<Schemas["Agent"] | null>(null);
  const [rotating, setRotating] = useState<Schemas["Agent"] | null>(null);
  const action = useAction();
  const can = useCan();
  const canEnrol = can("POST /agents/");
  const canRotate = can("POST /agents/{agent_id}/rotate-key");
  const canDelete = can("DELETE /agents/{agent_id}");

  return (
    <>
      <PageTitle title="Agents">
        {canEnrol && !enrolling && !newKey && (
          <button type="button" class="primary" onClick={() => setEnrolling(true)}>
            Enrol an agent
          </button>
        )}
      </PageTitle>
      {canEnrol && enrolling && (
        <section class="card" aria-labelledby="enrol-title">
          <h2 id="enrol-title">Enrol an agent</h2>
          <form
            class="inline"
            onSubmit={(e) => {
              const v = formValues(e);
              void action.run(async () => {
                const agent = await ok(api.POST("/agents/", { body: { name: v.name ?? "" } }));
                setNewKey(agent);
                setEnrolling(false);
                list.reload();
              });
            }}
          >
            <Field label="Agent name" name="name" required maxLength={200} placeholder="Jane's laptop" />
            <button type="submit" class="primary" disabled={action.busy}>
              Create key
            </button>
            <button type="button" onClick={() => setEnrolling(false)}>
              Cancel
            </button>
          </form>
        </section>
      )}
      {newKey && <NewKey agent={newKey} onDone={() => setNewKey(null)} />}
      <form class="filters" aria-label="Filter agents" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select value={status ?? ""} onChange={(e) => navigate("/agents" + query({ status: (e.target as HTMLSelectElement).value || undefined }))}>
            <option value="">online and offline</option>
            <option value="online">online</option>
            <option value="offline">offline</option>
          </select>
        </label>
      </form>
      <ErrorText error={action.error} />
      <Loaded load={list} label="agents">
        {(l) =>
          l.total === 0 ? (
            <p class="muted">{status ? `No agent is ${status}.` : "No agent is enrolled yet."}</p>
          ) : (
            <>
              <div class="table-wrap">
                <table class="rows">
                  <caption class="sr-only">Enrolled agents</caption>
                  <thead>
                    <tr>
                      <th scope="col">Agent</th>
                      <th scope="col">State</th>
                      <th scope="col">Last seen</th>
                      <th scope="col" class="wide">Host</th>
                      <th scope="col" class="wide">Version</th>
                      <th scope="col">Servers</th>
                      {(canRotate || canDelete) && <th scope="col">Actions</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {l.items.map((a) => (
                      <tr>
                        <th scope="row">
                          {a.name}
                          <br />
                          <span class="muted mono">{a.key_prefix}…</span>
                        </th>
                        <td>
                          <span class={`state state-${a.status}`}>{a.status}</span>
                        </td>
                        <td>
                          <Time iso={a.last_seen_at} />
                        </td>
                        <td class="wide">
                          {a.hostname ?? "—"}
                          {a.os_type && <span class="muted"> ({a.os_type})</span>}
                        </td>
                        <td class="wide">{a.agent_version ?? "—"}</td>
                        <td>
                          <Link href={`/servers${query({ agent_id: a.id })}`}>
                            {count(a.active_server_count ?? a.server_count)} active / {count(a.server_count)}
                          </Link>
                        </td>
                        {(canRotate || canDelete) && (
                          <td>
                            <div class="row-actions">
                              {canRotate && (
                                <button type="button" aria-label={`Rotate key of ${a.name}`} onClick={() => setRotating(a)}>
                                  Rotate key
                                </button>
                              )}
                              {canDelete && (
                                <button type="button" class="danger" aria-label={`Delete ${a.name}`} onClick={() => setDeleting(a)}>
                                  Delete
                                </button>
                              )}
                            </div>
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager path="/agents" label="Agents" params={{ status }} page={page} pageSize={pageSize} total={l.total} />
            </>
          )
        }
      </Loaded>
      <Confirm
        open={rotating !== null}
        title={`Rotate the key of ${rotating?.name ?? ""}?`}
        confirm={`Rotate the key of ${rotating?.name ?? ""}`}
        onCancel={() => setRotating(null)}
        onConfirm={() => {
          const a = rotating;
          setRotating(null);
          if (a) {
            void action.run(async () => {
              setNewKey(await ok(api.POST("/agents/{agent_id}/rotate-key", { params: { path: { agent_id: a.id } } })));
              list.reload();
            });
          }
        }}
      >
        <p>The current key stops working at once: the agent reports again only once its configuration holds the new key.</p>
      </Confirm>
      <Confirm
        open={deleting !== null}
        title={`Delete the agent ${deleting?.name ?? ""}?`}
        confirm={`Delete ${deleting?.name ?? ""}`}
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const a = deleting;
          setDeleting(null);
          if (a) {
            void action.run(async () => {
              await ok(api.DELETE("/agents/{agent_id}", { params: { path: { agent_id: a.id } } }));
              list.reload();
            });
          }
        }}
      >
        <p>
          Its key stops working at once, and the {count(deleting?.server_count ?? 0)} servers it reported leave the inventory. This cannot be
          undone.
        </p>
      </Confirm>
    </>
  );
}
