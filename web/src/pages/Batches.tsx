import { useEffect, useState } from "react";
import { api, must, type components } from "../api/client";
import { ExportMenu } from "../components/ExportMenu";
import { Counts } from "../components/Status";
import { useI18n } from "../i18n";
import { Link } from "../router";

type Item = components["schemas"]["BatchListItemOut"];
const REFRESH_MS = 4000;

/** Every batch, newest first, with its cards counted by status (refreshed while the page is open). */
export function BatchesPage() {
  const { t, lang } = useI18n();
  const [items, setItems] = useState<Item[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        const page = must(await api.GET("/api/recognition/batches", { params: { query: { limit: 200 } } }));
        if (alive) setItems(page.items);
      } catch (e) {
        if (alive) setError((e as Error).message);
      }
    };
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, []);

  return (
    <section className="panel">
      <h1>{t("batches")}</h1>
      {error && <div className="error">{error}</div>}
      {items === null ? (
        <div className="muted">{t("loading")}</div>
      ) : items.length === 0 ? (
        <div className="muted">{t("noBatches")}</div>
      ) : (
        <table className="list" data-testid="batches">
          <thead>
            <tr>
              <th>{t("label")}</th>
              <th>{t("createdCol")}</th>
              <th>{t("cardsCol")}</th>
              <th>{t("status")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((b) => (
              <tr key={b.id} data-batch={b.id}>
                <td>
                  <Link to={`/batches/${b.id}`}>{b.label || b.id.slice(0, 8)}</Link>
                </td>
                <td className="muted">{new Date(b.created_at).toLocaleString(lang)}</td>
                <td>{b.total}</td>
                <td>
                  <Counts counts={b.counts} />
                </td>
                <td>
                  <ExportMenu kind="batch" id={b.id} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
