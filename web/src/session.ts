import { createContext } from "preact";
import { useContext } from "preact/hooks";

import type { Schemas } from "./api";
import roles from "./roles.json";

/**
 * The operations some role may not call, with the roles that may: openapi.yaml's x-roles, which
 * web/roles_test.go keeps this file equal to. A control that calls one is shown only to those roles.
 */
export type Operation = keyof typeof roles;

export interface Session {
  user: Schemas["User"];
  /** Whether the user's role may call the operation. */
  can: (op: Operation) => boolean;
  /** Reads the user again (after a profile change). */
  refresh: () => void;
  signOut: () => void;
}

export function sessionOf(user: Schemas["User"], refresh: () => void, signOut: () => void): Session {
  return { user, can: (op) => (roles[op] as readonly string[]).includes(user.role), refresh, signOut };
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a session");
  return s;
}

/** Whether the signed-in user may call the operation; false until their role is known. */
export function useCan(): (op: Operation) => boolean {
  const s = useContext(SessionContext);
  return s ? s.can : () => false;
}
