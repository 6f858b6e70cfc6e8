/**
 * @mcpwarden/client: the typed client of the mcpwarden API.
 *
 * Every path, parameter and body type comes from `schema.gen.ts`, which openapi-typescript
 * generates from openapi.yaml (`make generate`); requests go through one openapi-fetch client.
 * This file adds only what the spec cannot say: holding the tokens, form login, refreshing the
 * access token when it expires, and turning problem+json answers into a typed error.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./schema.gen.js";

export type { components, operations, paths };
/** Every schema of openapi.yaml by name: `Schemas["McpServer"]`. */
export type Schemas = components["schemas"];
/** An RFC 9457 problem document, as every error of the API is. */
export type Problem = Schemas["Problem"];
export type TokenPair = Schemas["TokenPair"];
/** The openapi-fetch client, typed by openapi.yaml's paths. */
export type Api = Client<paths>;

/** An answer of the API that is not a success, with its problem document. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.detail);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

/** Where the refresh token is kept between page loads (by default, nowhere: memory only). */
export interface RefreshTokenStore {
  load(): string | null;
  save(token: string | null): void;
}

export interface ClientOptions {
  /** The server's origin, such as `https://mcpwarden.example.com`; the page's origin by default. */
  baseUrl?: string;
  /** A fetch to use instead of the global one (tests, Node). */
  fetch?: (input: Request) => Promise<Response>;
  /** Keeps the refresh token across reloads; without one, a reload signs out. */
  refreshTokenStore?: RefreshTokenStore;
  /** Called when the session ends without being asked to: the refresh token was refused. */
  onSessionEnd?: () => void;
}

/** The client: `api` makes every call; the rest manages the session. */
export interface McpwardenClient {
  api: Api;
  /** Form login (`POST /auth/login`); keeps both tokens. */
  login(email: string, password: string): Promise<void>;
  /** Revokes the refresh token's login (`POST /auth/logout`) and forgets the tokens. */
  logout(): Promise<void>;
  /** Whether a session is held (an access token, or a refresh token to get one). */
  signedIn(): boolean;
}

/** The data of a call's success branch (undefined for an answer without content). */
export type SuccessData<R> = R extends { data: infer D; response: Response } ? D : never;

/**
 * The data of a successful call, or an ApiError carrying the problem document:
 * `const servers = await ok(api.GET("/mcp/servers", { params: { query: { page: 1 } } }))`.
 */
export async function ok<R extends { data?: unknown; error?: unknown; response: Response }>(call: Promise<R>): Promise<SuccessData<R>> {
  const { data, error, response } = await call;
  if (response.ok) {
    return data as SuccessData<R>;
  }
  throw new ApiError(response.status, asProblem(response, error));
}

function asProblem(response: Response, body: unknown): Problem {
  if (body && typeof body === "object" && "detail" in body && "status" in body) {
    return body as Problem;
  }
  const title = response.statusText || `HTTP ${response.status}`;
  return {
    type: "about:blank",
    title,
    status: response.status,
    detail: typeof body === "string" && body !== "" ? body : title,
  };
}

const tokenPaths = new Set(["/auth/login", "/auth/refresh", "/auth/logout"]);

/** Creates a client. Tokens live in this object; only the refresh token may be stored. */
export function createMcpwardenClient(options: ClientOptions = {}): McpwardenClient {
  const { refreshTokenStore, onSessionEnd } = options;
  const clientOptions = {
    baseUrl: options.baseUrl ?? "",
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  // Token calls go through a client of their own, so that refreshing never recurses.
  const tokens = createClient<paths>(clientOptions);
  const api = createClient<paths>(clientOptions);

  let accessToken: string | null = null;
  let refreshToken: string | null = refreshTokenStore?.load() ?? null;
  // One refresh at a time: a refresh token works once, and a second use of it revokes the login.
  let refreshing: Promise<boolean> | null = null;
  const retries = new Map<string, Request>();

  const keep = (pair: TokenPair | null) => {
    accessToken = pair?.access_token ?? null;
    refreshToken = pair?.refresh_token ?? null;
    refreshTokenStore?.save(refreshToken);
  };

  const refresh = (): Promise<boolean> => {
    if (!refreshing) {
      const token = refreshToken;
      refreshing = (async () => {
        if (!token) {
          return false;
        }
        const { data, response } = await tokens.POST("/auth/refresh", { body: { refresh_token: token } });
        if (data) {
          keep(data);
          return true;
        }
        if (response.status === 401) {
          keep(null);
          onSessionEnd?.();
        }
        return false;
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  };

  const auth: Middleware = {
    async onRequest({ request, schemaPath, id }) {
      if (tokenPaths.has(schemaPath)) {
        return request;
      }
      if (!accessToken && refreshToken) {
        await refresh();
      }
      if (accessToken) {
        request.headers.set("Authorization", `Bearer ${accessToken}`);
        retries.set(id, request.clone());
      }
      return request;
    },
    async onResponse({ response, id }) {
      const original = retries.get(id);
      retries.delete(id);
      // An expired access token: refresh once and send the request again.
      if (response.status !== 401 || !original) {
        return response;
      }
      const sent = original.headers.get("Authorization");
      if (sent === `Bearer ${accessToken}` && !(await refresh())) {
        return response;
      }
      if (!accessToken) {
        return response;
      }
      original.headers.set("Authorization", `Bearer ${accessToken}`);
      return (options.fetch ?? globalThis.fetch)(original);
    },
    onError({ id }) {
      retries.delete(id);
    },
  };
  api.use(auth);

  return {
    api,
    async login(email, password) {
      const pair = await ok(
        tokens.POST("/auth/login", {
          body: { username: email, password },
          bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        }),
      );
      keep(pair);
    },
    async logout() {
      const token = refreshToken;
      keep(null);
      if (token) {
        await ok(tokens.POST("/auth/logout", { body: { refresh_token: token } }));
      }
    },
    signedIn() {
      return accessToken !== null || refreshToken !== null;
    },
  };
}
