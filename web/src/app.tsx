import { useContext, useEffect, useRef, useState } from "preact/hooks";

import { api, client, ok, useLoad } from "./api";
import { ErrorText, PageTitle } from "./components";
import { Agents } from "./pages/agents";
import { Alerts } from "./pages/alerts";
import { Audit } from "./pages/audit";
import { AcceptInvitation, Register, SignIn } from "./pages/auth";
import { Overview } from "./pages/overview";
import { ServerPage, Servers } from "./pages/servers";
import { Settings } from "./pages/settings";
import { Link, navigate, useLocation } from "./router";
import { SessionContext, sessionOf, type Operation, type Session } from "./session";

const publicPaths = ["/sign-in", "/register", "/accept-invitation"];

export function App() {
  const loc = useLocation();
  const [signedIn, setSignedIn] = useState(client.signedIn());
  useEffect(() => {
    const out = () => setSignedIn(false);
    window.addEventListener("mcpwarden:signed-out", out);
    return () => window.removeEventListener("mcpwarden:signed-out", out);
  }, []);

  if (publicPaths.includes(loc.path)) {
    const done = () => {
      setSignedIn(true);
      navigate(loc.query.get("next") ?? "/", true);
    };
    return (
      <main id="main" class="auth-page">
        {loc.path === "/sign-in" && <SignIn onSignedIn={done} />}
        {loc.path === "/register" && <Register onSignedIn={done} />}
        {loc.path === "/accept-invitation" && <AcceptInvitation />}
      </main>
    );
  }
  if (!signedIn) {
    return <Redirect to={`/sign-in${loc.path === "/" ? "" : `?next=${encodeURIComponent(loc.path + (loc.query.size ? `?${loc.query}` : ""))}`}`} />;
  }
  return <Shell onSignedOut={() => setSignedIn(false)} />;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

// Each page with the operation it reads, when not every role may (src/roles.json).
const nav: [string, string, Operation?][] = [
  ["/", "Overview"],
  ["/servers", "Servers"],
  ["/agents", "Agents"],
  ["/alerts", "Alerts"],
  ["/audit", "Audit log", "GET /audit-events"],
  ["/settings", "Settings"],
];

function Shell({ onSignedOut }: { onSignedOut: () => void }) {
  const loc = useLocation();
  const me = useLoad(() => ok(api.GET("/auth/me")), []);
  // After moving to another page, focus goes to its content, as a page load would put it.
  const shown = useRef(loc.path);
  useEffect(() => {
    if (shown.current !== loc.path) {
      shown.current = loc.path;
      document.getElementById("main")?.focus({ preventScroll: true });
    }
  }, [loc.path]);
  if (me.state === "error") {
    return (
      <main id="main">
        <ErrorText error={me.error} />
        <Link href="/sign-in">Sign in again</Link>
      </main>
    );
  }
  const signOut = () => {
    void client.logout().finally(() => {
      onSignedOut();
      navigate("/sign-in", true);
    });
  };
  // The page loads its data while the user is read; what depends on the role waits for it.
  const session: Session | null = me.data ? sessionOf(me.data, me.reload, signOut) : null;
  const section = "/" + (loc.path.split("/")[1] ?? "");
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          mcpwarden
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.filter(([, , op]) => !op || session?.can(op)).map(([href, label]) => (
              <li>
                <Link href={href} aria-current={section === href ? "page" : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="muted">{me.data ? `${me.data.full_name} (${me.data.role})` : ""}</span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={loc.path} query={loc.query} />
      </main>
    </SessionContext.Provider>
  );
}

function Page({ path, query }: { path: string; query: URLSearchParams }) {
  const session = useContext(SessionContext);
  if (path === "/") return <Overview />;
  if (path === "/servers") return <Servers query={query} />;
  if (path.startsWith("/servers/")) return <ServerPage id={path.slice("/servers/".length)} />;
  if (path === "/agents") return <Agents query={query} />;
  if (path === "/alerts") return <Alerts query={query} />;
  if (path === "/audit") {
    // Asked for only once the role is known to allow it.
    if (!session) return <p class="muted" role="status">Loading…</p>;
    if (!session.can("GET /audit-events")) {
      return (
        <>
          <PageTitle title="Audit log" />
          <p>Only admins read the audit log.</p>
        </>
      );
    }
    return <Audit query={query} />;
  }
  if (path === "/settings") return <Settings />;
  return (
    <>
      <h1>Not found</h1>
      <p>
        There is no page at this address. <Link href="/">Go to the overview</Link>.
      </p>
    </>
  );
}
