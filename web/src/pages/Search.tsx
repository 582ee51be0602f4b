import { useEffect, useState, type FormEvent } from "react";
import { api, must, type SearchResult } from "../api/client";
import { useI18n } from "../i18n";
import { Link, navigate } from "../router";

/** Full-text search over the latest transcripts; a hit opens its card with the matched line highlighted. */
export function SearchPage({ q }: { q: string }) {
  const { t } = useI18n();
  const [query, setQuery] = useState(q);
  const [result, setResult] = useState<SearchResult | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setQuery(q);
    if (!q.trim()) return setResult(null);
    let alive = true;
    api.GET("/api/recognition/search", { params: { query: { q, limit: 50 } } }).then(
      (r) => alive && setResult(must(r)),
      (e: Error) => alive && setError(e.message),
    );
    return () => {
      alive = false;
    };
  }, [q]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    navigate(`/search?q=${encodeURIComponent(query)}`);
  };
  return (
    <section className="panel">
      <h1>{t("search")}</h1>
      <form onSubmit={submit} className="row" style={{ marginBottom: 14 }}>
        <input name="q" value={query} onChange={(e) => setQuery(e.target.value)} placeholder={t("searchPlaceholder")} style={{ width: 360 }} />
        <button className="primary" type="submit">
          {t("find")}
        </button>
      </form>
      {error && <div className="error">{error}</div>}
      {result && result.items.length === 0 && <div className="muted">{t("noHits")}</div>}
      <div className="hits" data-testid="hits">
        {result?.items.map((hit) => {
          const to = `/cards/${hit.task_id}${hit.line ? `?line=${hit.line.index}` : ""}`;
          return (
            <div className="hit" key={hit.task_id} data-hit={hit.task_id}>
              <Link to={to}>
                <img src={hit.image_url} alt="" loading="lazy" />
              </Link>
              <div>
                <Link to={to}>{hit.filename}</Link> <span className="muted">· {t("revision")} {hit.revision}</span>
                {hit.lines.map((line) => (
                  // `marked` is the server's HTML-escaped line with <mark> around each hit, nothing else.
                  <div key={line.index} dangerouslySetInnerHTML={{ __html: line.marked }} />
                ))}
              </div>
            </div>
          );
        })}
      </div>
    </section>
  );
}
