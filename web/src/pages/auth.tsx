import { useState } from "preact/hooks";

import { api, client, ok } from "../api";
import { ErrorText, Field, PageTitle, formValues, useAction } from "../components";
import { Link, useLocation } from "../router";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const action = useAction();
  return (
    <section class="card narrow">
      <PageTitle title="Sign in" />
      <form
        onSubmit={(e) => {
          const v = formValues(e);
          void action.run(() => client.login(v.email ?? "", v.password ?? "")).then((done) => done && onSignedIn());
        }}
      >
        <Field label="Email" name="email" type="email" autoComplete="username" required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        <ErrorText error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          Sign in
        </button>
      </form>
      <p>
        New to mcpwarden? <Link href="/register">Create an organization</Link>. Invited?{" "}
        <Link href="/accept-invitation">Set your password</Link>.
      </p>
    </section>
  );
}

export function Register({ onSignedIn }: { onSignedIn: () => void }) {
  const action = useAction();
  return (
    <section class="card narrow">
      <PageTitle title="Create an organization" />
      <form
        onSubmit={(e) => {
          const v = formValues(e);
          void action
            .run(async () => {
              await ok(
                api.POST("/auth/register", {
                  body: { email: v.email ?? "", password: v.password ?? "", full_name: v.full_name ?? "", organization_name: v.organization_name ?? "" },
                }),
              );
              await client.login(v.email ?? "", v.password ?? "");
            })
            .then((done) => done && onSignedIn());
        }}
      >
        <Field label="Your name" name="full_name" autoComplete="name" required maxLength={200} />
        <Field label="Organization" name="organization_name" autoComplete="organization" required maxLength={200} />
        <Field label="Email" name="email" type="email" autoComplete="username" required />
        <Field label="Password (at least 12 characters)" name="password" type="password" autoComplete="new-password" required minLength={12} />
        <ErrorText error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          Create organization
        </button>
      </form>
      <p>
        Already registered? <Link href="/sign-in">Sign in</Link>.
      </p>
    </section>
  );
}

export function AcceptInvitation() {
  const loc = useLocation();
  const action = useAction();
  const [done, setDone] = useState(false);
  return (
    <section class="card narrow">
      <PageTitle title="Accept an invitation" />
      {done ? (
        <p role="status">
          Your password is set. <Link href="/sign-in">Sign in</Link> with your email and it.
        </p>
      ) : (
        <form
          onSubmit={(e) => {
            const v = formValues(e);
            void action
              .run(() => ok(api.POST("/auth/invitations/accept", { body: { setup_token: v.setup_token ?? "", password: v.password ?? "" } })).then(() => {}))
              .then(setDone);
          }}
        >
          <p>Your administrator gave you a setup token, valid for 72 hours. Choose your password with it.</p>
          <Field label="Setup token" name="setup_token" required value={loc.query.get("token") ?? undefined} autoComplete="off" />
          <Field label="New password (at least 12 characters)" name="password" type="password" autoComplete="new-password" required minLength={12} />
          <ErrorText error={action.error} />
          <button type="submit" class="primary" disabled={action.busy}>
            Set password
          </button>
        </form>
      )}
    </section>
  );
}
