// Who is signed in and with which role. The interface hides what the role may not do (a `user` sees no
// edit, upload, cancel or delete control); the server's access rules still decide every request.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { getSession, type Role, type Session } from "./api/client";

const RANK: Record<Role, number> = { user: 0, editor: 1, admin: 2 };

type SessionContext = { session: Session | null; refresh: () => Promise<void>; may: (role: Role) => boolean };
const Context = createContext<SessionContext | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(null);
  const refresh = useCallback(async () => {
    try {
      setSession(await getSession());
    } catch {
      setSession({ state: "anonymous" });
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  const may = (role: Role) => session?.state === "authenticated" && RANK[session.role ?? "user"] >= RANK[role];
  return <Context.Provider value={{ session, refresh, may }}>{children}</Context.Provider>;
}

export function useSession(): SessionContext {
  const value = useContext(Context);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}
