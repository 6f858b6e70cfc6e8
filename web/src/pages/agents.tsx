import { useState } from "preact/hooks";

import { api, ok, useLoad, type Schemas } from "../api";
import { ActionForm, ConfirmFor, CopyButton, ErrorText, Field, Loaded, PageTitle, Pager, Secret, Time, count, formValues, useAction } from "../components";
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

function fleetCommands(secret: string): { os: string; text: string }[] {
  const url = window.location.origin;
  return [
    {
      os: "macOS",
      text: `tar xzf mcpwarden-agent_<version>_darwin_arm64.tar.gz && cd mcpwarden-agent_<version>_darwin_arm64
sudo ./install.sh --url ${url} --secret ${secret}`,
    },
    {
      os: "Linux",
      text: `sudo apt install ./mcpwarden-agent_<version>-1_amd64.deb   # or: sudo dnf install ./mcpwarden-agent-<version>-1.x86_64.rpm
printf '{"url": "${url}", "enrollment_secret": "${secret}"}' | sudo tee /etc/mcpwarden/agent.json >/dev/null
sudo systemctl restart mcpwarden-agent`,
    },
    {
      os: "Windows",
      text: `Expand-Archive mcpwarden-agent_<version>_windows_amd64.zip -DestinationPath .
cd mcpwarden-agent_<version>_windows_amd64
powershell -ExecutionPolicy Bypass -File .\\install.ps1 -Url ${url} -Secret ${secret}`,
    },
  ];
}

/** Tabs of install commands, one per operating system (arrow keys move between them). */
function InstallTabs({ id, commands }: { id: string; commands: { os: string; text: string }[] }) {
  const [os, setOs] = useState(0);
  return (
    <>
      <div role="tablist" aria-label="Install command for" class="tabs">
        {commands.map((c, i) => (
          <button
            type="button"
            role="tab"
            id={`${id}-tab-${i}`}
            aria-selected={os === i}
            aria-controls={`${id}-panel-${i}`}
            tabIndex={os === i ? 0 : -1}
            onClick={() => setOs(i)}
            onKeyDown={(e) => {
              if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
                const next = (i + (e.key === "ArrowRight" ? 1 : commands.length - 1)) % commands.length;
                setOs(next);
                document.getElementById(`${id}-tab-${next}`)?.focus();
              }
            }}
          >
            {c.os}
          </button>
        ))}
      </div>
      {commands.map((c, i) => (
        <div role="tabpanel" id={`${id}-panel-${i}`} aria-labelledby={`${id}-tab-${i}`} hidden={os !== i}>
          <pre tabIndex={0}>
            <code>{c.text}</code>
          </pre>
          <CopyButton text={c.text} label={`Copy the ${c.os} commands`} />
        </div>
      ))}
    </>
  );
}

function NewKey({ agent, onDone }: { agent: Schemas["AgentWithKey"]; onDone: () => void }) {
  const commands = installCommands(agent.api_key);
  return (
    <section class="card" aria-labelledby="key-title">
      <h2 id="key-title">Key of {agent.name}</h2>
      <Secret label="Agent key" value={agent.api_key} />
      <InstallTabs id="key" commands={commands} />
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
      <ConfirmFor
        item={rotating}
        close={() => setRotating(null)}
        action={action}
        title={`Rotate the key of ${rotating?.name ?? ""}?`}
        confirm={`Rotate the key of ${rotating?.name ?? ""}`}
        run={async (a) => {
          setNewKey(await ok(api.POST("/agents/{agent_id}/rotate-key", { params: { path: { agent_id: a.id } } })));
          list.reload();
        }}
      >
        <p>The current key stops working at once: the agent reports again only once its configuration holds the new key.</p>
      </ConfirmFor>
      <ConfirmFor
        item={deleting}
        close={() => setDeleting(null)}
        action={action}
        title={`Delete the agent ${deleting?.name ?? ""}?`}
        confirm={`Delete ${deleting?.name ?? ""}`}
        run={async (a) => {
          await ok(api.DELETE("/agents/{agent_id}", { params: { path: { agent_id: a.id } } }));
          list.reload();
        }}
      >
        <p>
          Its key stops working at once, and the {count(deleting?.server_count ?? 0)} servers it reported leave the inventory. This cannot be
          undone.
        </p>
      </ConfirmFor>
      {can("GET /enrollment-secrets") && <EnrollmentSecrets />}
    </>
  );
}

/** Enrolment secrets (admins): one secret in every machine's configuration enrols the fleet. */
function EnrollmentSecrets() {
  const list = useLoad(() => ok(api.GET("/enrollment-secrets", { params: { query: { page_size: 100 } } })), []);
  const action = useAction();
  const [shown, setShown] = useState<Schemas["EnrollmentSecretWithSecret"] | null>(null);
  const [rotating, setRotating] = useState<Schemas["EnrollmentSecret"] | null>(null);
  const [revoking, setRevoking] = useState<Schemas["EnrollmentSecret"] | null>(null);
  return (
    <section class="card" aria-labelledby="secrets-title">
      <h2 id="secrets-title">Enrolment secrets</h2>
      <p class="muted">
        To roll the agent out to many machines, put one secret in every machine's configuration (by hand, or from an MDM): each machine enrols
        itself and receives its own key.
      </p>
      <Loaded load={list} label="enrolment secrets">
        {(l) =>
          l.items.length === 0 ? (
            <p class="muted">No enrolment secret.</p>
          ) : (
            <div class="table-wrap">
              <table class="rows">
                <caption class="sr-only">Enrolment secrets, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Secret</th>
                    <th scope="col">State</th>
                    <th scope="col">Machines enrolled</th>
                    <th scope="col" class="wide">Last used</th>
                    <th scope="col" class="wide">Expires</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {l.items.map((e) => (
                    <tr>
                      <th scope="row">
                        {e.name}
                        <br />
                        <span class="muted mono">{e.secret_prefix}</span>
                      </th>
                      <td>{e.status}</td>
                      <td>{count(e.uses)}</td>
                      <td class="wide">
                        <Time iso={e.last_used_at} />
                      </td>
                      <td class="wide">{e.expires_at ? <Time iso={e.expires_at} /> : "never"}</td>
                      <td>
                        {e.status === "revoked" ? (
                          <span class="muted">—</span>
                        ) : (
                          <div class="row-actions">
                            {e.status === "active" && (
                              <button type="button" aria-label={`Rotate the secret ${e.name}`} onClick={() => setRotating(e)}>
                                Rotate
                              </button>
                            )}
                            <button type="button" class="danger" aria-label={`Revoke the secret ${e.name}`} onClick={() => setRevoking(e)}>
                              Revoke
                            </button>
                          </div>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
      <h3>Create a secret</h3>
      <ActionForm
        action={action}
        submit={async (v) => {
          const body = { name: v.name ?? "", ...(v.expires ? { expires_at: new Date(`${v.expires}T00:00:00Z`).toISOString() } : {}) };
          setShown(await ok(api.POST("/enrollment-secrets", { body })));
          list.reload();
        }}
      >
        <Field label="Secret name" name="name" required maxLength={200} placeholder="Engineering laptops (Jamf)" />
        <Field label="Expires on (UTC; empty: never)" name="expires" type="date" />
        <button type="submit" class="primary" disabled={action.busy}>
          Create secret
        </button>
      </ActionForm>
      <ErrorText error={action.error} />
      {shown && (
        <div class="notice">
          <Secret label="Enrolment secret" value={shown.secret} />
          <InstallTabs id="fleet" commands={fleetCommands(shown.secret)} />
          <p>
            <button type="button" onClick={() => setShown(null)}>
              Done
            </button>
          </p>
        </div>
      )}
      <ConfirmFor
        item={rotating}
        close={() => setRotating(null)}
        action={action}
        title={`Rotate the secret ${rotating?.name ?? ""}?`}
        confirm={`Rotate ${rotating?.name ?? ""}`}
        run={async (e) => {
          setShown(await ok(api.POST("/enrollment-secrets/{enrollment_id}/rotate", { params: { path: { enrollment_id: e.id } } })));
          list.reload();
        }}
      >
        <p>The current value stops enrolling machines at once; machines it enrolled keep their keys.</p>
      </ConfirmFor>
      <ConfirmFor
        item={revoking}
        close={() => setRevoking(null)}
        action={action}
        title={`Revoke the secret ${revoking?.name ?? ""}?`}
        confirm={`Revoke ${revoking?.name ?? ""}`}
        run={async (e) => {
          await ok(api.DELETE("/enrollment-secrets/{enrollment_id}", { params: { path: { enrollment_id: e.id } } }));
          list.reload();
        }}
      >
        <p>It stops enrolling machines at once; machines it enrolled keep their keys.</p>
      </ConfirmFor>
    </section>
  );
}
