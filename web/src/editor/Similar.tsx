import { useState } from "react";
import { api, errorOf, must } from "../api/client";
import { useI18n } from "../i18n";

type Image = { id: string; user_visible_name: string; directory: string; score?: number | null };

/**
 * Cards that look like this one: the gallery's image search over card scans (every recognised scan
 * joins the gallery under cards/, named after its task id's first 8 characters).
 */
export function Similar({ taskId }: { taskId: string }) {
  const { t } = useI18n();
  const [images, setImages] = useState<Image[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const find = async () => {
    setError(null);
    try {
      // The gallery listing reads its filters from the raw query (Sketch-Search's contract), so the schema
      // names no parameters for it and this one call is a plain fetch.
      const params = new URLSearchParams({ directory: "cards", name_contains: taskId.slice(0, 8), items_per_page: "1" });
      const listed = await fetch(`/api/images?${params}`, { credentials: "same-origin" });
      const own = (await listed.json()) as { images: Image[]; error?: string };
      if (!listed.ok || own.error) throw errorOf(listed.status, own);
      const self = own.images[0];
      if (!self) throw new Error(t("noHits"));
      const found = must(
        await api.POST("/api/images/search-by-image", { body: { image_id: self.id, top_k: 13, query: { directory: "cards" } } }),
      ) as { images: Image[] };
      setImages(found.images.filter((i) => i.id !== self.id).slice(0, 12));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="panel">
      <div className="row">
        <h2 style={{ margin: 0 }}>{t("similar")}</h2>
        <button onClick={find} data-testid="similar">
          {t("find")}
        </button>
      </div>
      {error && <div className="error">{error}</div>}
      {images && (
        <div className="similar" style={{ marginTop: 8 }}>
          {images.length === 0 && <span className="muted">{t("noHits")}</span>}
          {images.map((i) => (
            <a key={i.id} href={`/api/images/${i.id}/view`} target="_blank" rel="noreferrer" title={i.user_visible_name}>
              <img src={`/api/images/${i.id}/thumbnail`} alt={i.user_visible_name} />
            </a>
          ))}
        </div>
      )}
    </div>
  );
}
