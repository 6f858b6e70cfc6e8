// The one client of the API the dashboard uses, and hooks that load data through it.
import { ApiError, createMcpwardenClient, ok, type Schemas } from "@mcpwarden/client";
import { useCallback, useEffect, useState } from "preact/hooks";

export { ApiError, ok };
export type { Schemas };

const refreshKey = "mcpwarden.refresh_token";

// The access token lives in the client object only. The refresh token is kept in this tab's
// sessionStorage so that a reload keeps the session (README.md, Security).
export const client = createMcpwardenClient({
  refreshTokenStore: {
    load: () => sessionStorage.getItem(refreshKey),
    save: (token) => (token ? sessionStorage.setItem(refreshKey, token) : sessionStorage.removeItem(refreshKey)),
  },
  onSessionEnd: () => window.dispatchEvent(new Event("mcpwarden:signed-out")),
});
export const api = client.api;

export type Load<T> =
  | { state: "loading"; data?: undefined; error?: undefined }
  | { state: "ok"; data: T; error?: undefined }
  | { state: "error"; data?: undefined; error: ApiError | Error };

/** Loads with fn whenever a key changes; reload() loads again. */
export function useLoad<T>(fn: () => Promise<T>, keys: unknown[]): Load<T> & { reload: () => void } {
  const [result, setResult] = useState<Load<T>>({ state: "loading" });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    fn().then(
      (data) => live && setResult({ state: "ok", data }),
      (error: unknown) => live && setResult({ state: "error", error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return () => {
      live = false;
    };
  }, [...keys, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...result, reload };
}

/** The sentence to show for a failed call: the problem's detail and its field errors. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.problem.errors?.map((e) => `${e.field}: ${e.message}`).join("; ");
    return fields ? `${error.problem.detail} (${fields})` : error.problem.detail;
  }
  return error instanceof Error ? error.message : String(error);
}
