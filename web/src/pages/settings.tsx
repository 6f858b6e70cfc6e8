import { useContext, useState } from "preact/hooks";

import { api, client, ok, useLoad, type Schemas } from "../api";
import { ActionForm, ConfirmFor, ErrorText, Field, Loaded, PageTitle, Secret, Time, formValues, useAction } from "../components";
import { SessionContext, useSession } from "../session";

export function Settings() {
  const session = useContext(SessionContext);
  if (!session) {
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  }
  return (
    <>
      <PageTitle title="Settings" />
      <Organization />
      {session.can("GET /auth/organization/members") && <Members />}
      {session.can("GET /webhooks") && <Webhooks />}
      {session.can("GET /api-tokens") && <ApiTokens />}
      <Account />
    </>
  );
}

function Saved({ show }: { show: boolean }) {
  return show ? (
    <p role="status" class="ok">
      Saved.
    </p>
  ) : null;
}

function Organization() {
  const { can } = useSession();
  const org = useLoad(() => ok(api.GET("/auth/organization")), []);
  const action = useAction();
  const [saved, setSaved] = useState(false);
  return (
    <section class="card" aria-labelledby="org-title">
      <h2 id="org-title">Organization</h2>
      <Loaded load={org} label="the organization">
        {(o) =>
          can("PATCH /auth/organization") ? (
            <form
              onSubmit={(e) => {
                const v = formValues(e);
                setSaved(false);
                void action
                  .run(() => ok(api.PATCH("/auth/organization", { body: { name: v.name ?? "", alert_email: v.alert_email ? v.alert_email : null } })).then(() => {}))
                  .then(setSaved);
              }}
            >
              <Field label="Name" name="name" required maxLength={200} value={o.name} />
              <Field label="Alert email (digests of new alerts)" name="alert_email" type="email" value={o.alert_email ?? ""} />
              <ErrorText error={action.error} />
              <Saved show={saved} />
              <button type="submit" class="primary" disabled={action.busy}>
                Save organization
              </button>
            </form>
          ) : (
            <dl class="facts">
              <dt>Name</dt>
              <dd>{o.name}</dd>
              <dt>Alert email</dt>
              <dd>{o.alert_email ?? "none"}</dd>
            </dl>
          )
        }
      </Loaded>
    </section>
  );
}

const roles: Schemas["Role"][] = ["admin", "member", "viewer"];
const asRole = (v: string | undefined): Schemas["Role"] => roles.find((r) => r === v) ?? "member";

function Members() {
  const { user } = useSession();
  const members = useLoad(() => ok(api.GET("/auth/organization/members")), []);
  const action = useAction();
  const [invitation, setInvitation] = useState<Schemas["MemberInvitation"] | null>(null);
  const [removing, setRemoving] = useState<Schemas["User"] | null>(null);
  return (
    <section class="card" aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      <Loaded load={members} label="members">
        {(list) => (
          <div class="table-wrap">
            <table class="rows">
              <thead>
                <tr>
                  <th scope="col">Member</th>
                  <th scope="col">Role</th>
                  <th scope="col" class="wide">Since</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((m) => (
                  <tr>
                    <th scope="row">
                      {m.full_name}
                      <br />
                      <span class="muted">{m.email}</span>
                      {!m.is_active && <span class="muted"> (invited)</span>}
                    </th>
                    <td>
                      <select
                        aria-label={`Role of ${m.full_name}`}
                        value={m.role}
                        disabled={m.id === user.id}
                        onChange={(e) => {
                          const role = (e.target as HTMLSelectElement).value as Schemas["Role"];
                          void action.run(async () => {
                            await ok(api.PATCH("/auth/organization/members/{user_id}", { params: { path: { user_id: m.id } }, body: { role } }));
                            members.reload();
                          });
                        }}
                      >
                        {roles.map((r) => (
                          <option value={r}>{r}</option>
                        ))}
                      </select>
                    </td>
                    <td class="wide">
                      <Time iso={m.created_at} />
                    </td>
                    <td>
                      {m.id !== user.id && (
                        <button type="button" class="danger" aria-label={`Remove ${m.full_name}`} onClick={() => setRemoving(m)}>
                          Remove
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      <h3>Invite a member</h3>
      <ActionForm
        action={action}
        submit={async (v) => {
          setInvitation(await ok(api.POST("/auth/organization/members", { body: { email: v.email ?? "", full_name: v.full_name ?? "", role: asRole(v.role) } })));
          members.reload();
        }}
      >
        <Field label="Name" name="full_name" required maxLength={200} />
        <Field label="Email" name="email" type="email" required />
        <label class="field">
          <span>Role</span>
          {/* Named by its label alone, not by the label and the chosen option's text. */}
          <select name="role" aria-label="Role">
            {["member", "viewer", "admin"].map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" class="primary" disabled={action.busy}>
          Invite
        </button>
      </ActionForm>
      <p class="muted">
        A viewer sees everything and changes nothing but their own account; a member also verifies servers, dismisses alerts and enrols agents; an
        admin also manages the organization, its members and webhooks.
      </p>
      <ErrorText error={action.error} />
      {invitation && (
        <div class="notice">
          <p>
            Give {invitation.user.full_name} this setup token (valid until <Time iso={invitation.setup_token_expires_at} />) and the address{" "}
            <code>{`${window.location.origin}/ui/accept-invitation`}</code>, where they choose a password.
          </p>
          <Secret label="Setup token" value={invitation.setup_token} />
        </div>
      )}
      <ConfirmFor
        item={removing}
        close={() => setRemoving(null)}
        action={action}
        title={`Remove ${removing?.full_name ?? ""}?`}
        confirm={`Remove ${removing?.full_name ?? ""}`}
        run={async (m) => {
          await ok(api.DELETE("/auth/organization/members/{user_id}", { params: { path: { user_id: m.id } } }));
          members.reload();
        }}
      >
        <p>{removing?.email} loses access at once: their sessions end.</p>
      </ConfirmFor>
    </section>
  );
}

function Webhooks() {
  const hooks = useLoad(() => ok(api.GET("/webhooks")), []);
  const action = useAction();
  const [created, setCreated] = useState<Schemas["WebhookWithSecret"] | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  // Changing it loads the open delivery log again.
  const [sent, setSent] = useState(0);
  const [deleting, setDeleting] = useState<Schemas["Webhook"] | null>(null);
  return (
    <section class="card" aria-labelledby="hooks-title">
      <h2 id="hooks-title">Webhooks</h2>
      <p class="muted">Every new alert is POSTed, signed, to each endpoint (see the README's Alerts section to verify a delivery).</p>
      <Loaded load={hooks} label="webhooks">
        {(list) =>
          list.items.length === 0 ? (
            <p class="muted">No webhook.</p>
          ) : (
            <ul class="hooks">
              {list.items.map((h) => (
                <li>
                  <div class="hook-row">
                    <span>
                      <code>{h.url}</code> {h.format === "slack" && <span class="chip-inline">Slack</span>} {h.description && <span class="muted">{h.description}</span>}
                    </span>
                    <span class="row-actions">
                      <button type="button" aria-expanded={open === h.id} aria-label={`Deliveries to ${h.url}`} onClick={() => setOpen(open === h.id ? null : h.id)}>
                        Deliveries
                      </button>
                      <button
                        type="button"
                        aria-label={`Send a test to ${h.url}`}
                        onClick={() =>
                          void action.run(async () => {
                            await ok(api.POST("/webhooks/{webhook_id}/test", { params: { path: { webhook_id: h.id } } }));
                            setOpen(h.id);
                            setSent((n) => n + 1);
                          })
                        }
                      >
                        Send a test
                      </button>
                      <button type="button" class="danger" aria-label={`Delete the webhook ${h.url}`} onClick={() => setDeleting(h)}>
                        Delete
                      </button>
                    </span>
                  </div>
                  {open === h.id && <Deliveries key={`${h.id}-${sent}`} id={h.id} />}
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
      <h3>Add a webhook</h3>
      <ActionForm
        action={action}
        submit={async (v) => {
          const format: Schemas["WebhookFormat"] = v.format === "slack" ? "slack" : "generic";
          setCreated(await ok(api.POST("/webhooks", { body: { url: v.url ?? "", format, ...(v.description ? { description: v.description } : {}) } })));
          hooks.reload();
        }}
      >
        <Field label="Endpoint URL" name="url" type="url" required placeholder="https://hooks.example.com/mcpwarden" />
        <Field label="Description" name="description" maxLength={200} />
        <label class="field">
          <span>Format</span>
          <select name="format" aria-label="Format">
            <option value="generic">generic (signed JSON)</option>
            <option value="slack">Slack incoming webhook</option>
          </select>
        </label>
        <button type="submit" class="primary" disabled={action.busy}>
          Add webhook
        </button>
      </ActionForm>
      <ErrorText error={action.error} />
      {created && <Secret label="Signing secret" value={created.secret} />}
      <ConfirmFor
        item={deleting}
        close={() => setDeleting(null)}
        action={action}
        title="Delete this webhook?"
        confirm="Delete webhook"
        run={async (h) => {
          await ok(api.DELETE("/webhooks/{webhook_id}", { params: { path: { webhook_id: h.id } } }));
          hooks.reload();
        }}
      >
        <p>{deleting?.url} receives no more alerts.</p>
      </ConfirmFor>
    </section>
  );
}

function Deliveries({ id }: { id: string }) {
  const list = useLoad(() => ok(api.GET("/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: id }, query: { page_size: 10 } } })), [id]);
  return (
    <Loaded load={list} label="deliveries">
      {(l) =>
        l.items.length === 0 ? (
          <p class="muted">No delivery yet.</p>
        ) : (
          <>
          <button type="button" onClick={list.reload}>
            Refresh the log
          </button>
          <table>
            <caption class="sr-only">Latest deliveries</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
              </tr>
            </thead>
            <tbody>
              {l.items.map((d) => (
                <tr>
                  <td>
                    <Time iso={d.created_at} />
                  </td>
                  <td>{d.event}</td>
                  <td>{d.status}</td>
                  <td>{d.attempts}</td>
                  <td>{d.last_status_code ?? d.last_error ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </>
        )
      }
    </Loaded>
  );
}

function Account() {
  const session = useSession();
  const profile = useAction();
  const password = useAction();
  const [saved, setSaved] = useState<"profile" | "password" | null>(null);
  return (
    <section class="card" aria-labelledby="account-title">
      <h2 id="account-title">Your account</h2>
      <form
        onSubmit={(e) => {
          const v = formValues(e);
          setSaved(null);
          void profile
            .run(() => ok(api.PATCH("/auth/me", { body: { full_name: v.full_name ?? "", email: v.email ?? "" } })).then(() => {}))
            .then((done) => {
              if (done) {
                setSaved("profile");
                session.refresh();
              }
            });
        }}
      >
        <Field label="Name" name="full_name" required maxLength={200} value={session.user.full_name} autoComplete="name" />
        <Field label="Email" name="email" type="email" required value={session.user.email} autoComplete="username" />
        <ErrorText error={profile.error} />
        <Saved show={saved === "profile"} />
        <button type="submit" class="primary" disabled={profile.busy}>
          Save profile
        </button>
      </form>
      <h3>Change password</h3>
      <form
        onSubmit={(e) => {
          const form = e.currentTarget as HTMLFormElement;
          const v = formValues(e);
          setSaved(null);
          void password
            .run(async () => {
              await ok(api.PUT("/auth/me/password", { body: { current_password: v.current_password ?? "", new_password: v.new_password ?? "" } }));
              // The change ends every session of the user, this one included: sign in again with the new password.
              await client.login(session.user.email, v.new_password ?? "");
            })
            .then((done) => {
              if (done) {
                form.reset();
                setSaved("password");
              }
            });
        }}
      >
        <Field label="Current password" name="current_password" type="password" required autoComplete="current-password" />
        <Field label="New password (at least 12 characters)" name="new_password" type="password" required minLength={12} autoComplete="new-password" />
        <ErrorText error={password.error} />
        {saved === "password" && (
          <p role="status" class="ok">
            Password changed.
          </p>
        )}
        <button type="submit" class="primary" disabled={password.busy}>
          Change password
        </button>
      </form>
    </section>
  );
}

const scopes: { scope: Schemas["ApiTokenScope"]; what: string }[] = [
  { scope: "read", what: "read what members may read" },
  { scope: "write", what: "change what members may change" },
  { scope: "admin", what: "read and change what only admins may" },
];

function ApiTokens() {
  const tokens = useLoad(() => ok(api.GET("/api-tokens", { params: { query: { page_size: 100 } } })), []);
  const action = useAction();
  const [created, setCreated] = useState<Schemas["ApiTokenWithToken"] | null>(null);
  const [revoking, setRevoking] = useState<Schemas["ApiToken"] | null>(null);
  return (
    <section class="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p class="muted">A token acts for you, within its scopes, for scripts and integrations: send it as <code>Authorization: Bearer …</code>.</p>
      <Loaded load={tokens} label="API tokens">
        {(list) =>
          list.items.length === 0 ? (
            <p class="muted">No API token.</p>
          ) : (
            <div class="table-wrap">
              <table class="rows">
                <caption class="sr-only">API tokens, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Token</th>
                    <th scope="col">Scopes</th>
                    <th scope="col" class="wide">Expires</th>
                    <th scope="col">Last used</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {list.items.map((t) => (
                    <tr>
                      <th scope="row">
                        {t.name}
                        <br />
                        <span class="muted mono">{t.token_prefix}</span>
                      </th>
                      <td>{t.scopes.join(", ")}</td>
                      <td class="wide">{t.expires_at ? <Time iso={t.expires_at} /> : "never"}</td>
                      <td>
                        <Time iso={t.last_used_at} />
                      </td>
                      <td>
                        {t.revoked_at ? (
                          <span class="muted">
                            revoked <Time iso={t.revoked_at} />
                          </span>
                        ) : (
                          <button type="button" class="danger" aria-label={`Revoke the token ${t.name}`} onClick={() => setRevoking(t)}>
                            Revoke
                          </button>
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
      <h3>Create a token</h3>
      <form
        onSubmit={(e) => {
          const form = e.currentTarget as HTMLFormElement;
          const data = new FormData(form);
          e.preventDefault();
          const chosen = scopes.map((s) => s.scope).filter((s) => data.getAll("scopes").includes(s));
          const expires = String(data.get("expires") ?? "");
          void action.run(async () => {
            setCreated(
              await ok(
                api.POST("/api-tokens", {
                  body: { name: String(data.get("name") ?? ""), scopes: chosen, ...(expires ? { expires_at: new Date(`${expires}T00:00:00Z`).toISOString() } : {}) },
                }),
              ),
            );
            form.reset();
            tokens.reload();
          });
        }}
      >
        <Field label="Name" name="name" required maxLength={200} placeholder="SIEM export" />
        <fieldset class="scopes">
          <legend>Scopes</legend>
          {scopes.map((s) => (
            <label>
              <input type="checkbox" name="scopes" value={s.scope} defaultChecked={s.scope === "read"} /> <strong>{s.scope}</strong>: {s.what}
            </label>
          ))}
        </fieldset>
        <Field label="Expires on (UTC; empty: never)" name="expires" type="date" />
        <button type="submit" class="primary" disabled={action.busy}>
          Create token
        </button>
      </form>
      <ErrorText error={action.error} />
      {created && <Secret label="API token" value={created.token} />}
      <ConfirmFor
        item={revoking}
        close={() => setRevoking(null)}
        action={action}
        title={`Revoke the token ${revoking?.name ?? ""}?`}
        confirm={`Revoke ${revoking?.name ?? ""}`}
        run={async (t) => {
          await ok(api.DELETE("/api-tokens/{integration_id}", { params: { path: { integration_id: t.id } } }));
          tokens.reload();
        }}
      >
        <p>Whatever uses it is refused from now on.</p>
      </ConfirmFor>
    </section>
  );
}
