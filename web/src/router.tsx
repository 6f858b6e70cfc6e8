// A small router over the History API: the path and query under /ui/ are the app's state, so a
// link reproduces a view.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

export const base = "/ui";

export interface Location {
  path: string; // without the /ui prefix, such as "/servers/123"
  query: URLSearchParams;
}

function current(): Location {
  const path = window.location.pathname.startsWith(base) ? window.location.pathname.slice(base.length) || "/" : "/";
  return { path, query: new URLSearchParams(window.location.search) };
}

/** Goes to an app path ("/servers?risk_level=high"); replace keeps the history entry. */
export function navigate(to: string, replace = false): void {
  const url = base + to;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event("mcpwarden:navigate"));
  if (!replace) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    window.addEventListener("popstate", update);
    window.addEventListener("mcpwarden:navigate", update);
    // A child's effect may have navigated before this one subscribed.
    update();
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("mcpwarden:navigate", update);
    };
  }, []);
  return loc;
}

/** A query string from values, leaving out empty ones. */
export function query(values: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

interface LinkProps {
  href: string;
  children: ComponentChildren;
  class?: string;
  "aria-current"?: "page" | undefined;
  "aria-label"?: string;
}

/** An <a> to an app path that navigates without reloading (a modified click opens as usual). */
export function Link({ href, children, ...rest }: LinkProps) {
  return (
    <a
      {...rest}
      href={base + href}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
