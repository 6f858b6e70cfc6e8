import { createContext } from "preact";
import { useContext } from "preact/hooks";

import type { Schemas } from "./api";

export interface Session {
  user: Schemas["User"];
  isAdmin: boolean;
  /** Reads the user again (after a profile change). */
  refresh: () => void;
  signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside a session");
  return s;
}
