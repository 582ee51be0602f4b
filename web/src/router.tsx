// A few pages, so a small history-API router: paths are real URLs (the api answers index.html for
// each, web.py's CLIENT_PAGES), and a deep link or a reload lands on the same page.
import { useEffect, useState, type MouseEvent, type ReactNode } from "react";

export type Route =
  | { page: "batches" }
  | { page: "batch"; id: string }
  | { page: "card"; id: string; line?: number }
  | { page: "search"; q: string }
  | { page: "upload" };

export function parse(path: string, search: string): Route {
  const parts = path.split("/").filter(Boolean);
  const params = new URLSearchParams(search);
  if (parts[0] === "batches" && parts[1]) return { page: "batch", id: parts[1] };
  if (parts[0] === "cards" && parts[1]) {
    const line = params.get("line");
    return { page: "card", id: parts[1], line: line === null ? undefined : Number(line) };
  }
  if (parts[0] === "search") return { page: "search", q: params.get("q") ?? "" };
  if (parts[0] === "upload") return { page: "upload" };
  return { page: "batches" };
}

export function navigate(to: string): void {
  window.history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const read = () => parse(window.location.pathname, window.location.search);
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    window.addEventListener("popstate", changed);
    return () => window.removeEventListener("popstate", changed);
  }, []);
  return route;
}

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  const click = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={click} className={className}>
      {children}
    </a>
  );
}
