import { useState } from "react";
import type { Revision } from "../api/client";
import { useI18n } from "../i18n";
import { wordDiff, type Piece } from "./diff";

export function Diff({ pieces }: { pieces: Piece[] }) {
  return (
    <span className="diff">
      {pieces.map((p, i) => (
        <span key={i}>
          {i > 0 && " "}
          {p.kind === "same" ? p.text : <span className={p.kind}>{p.text}</span>}
        </span>
      ))}
    </span>
  );
}

/** Every revision, newest first, with its author, time and a word-level diff against the one before. */
export function Revisions({
  revisions,
  current,
  editable,
  onRestore,
}: {
  revisions: Revision[];
  current: number | null;
  editable: boolean;
  onRestore: (revision: number) => void;
}) {
  const { t, lang } = useI18n();
  const [open, setOpen] = useState<number | null>(null);
  const ordered = [...revisions].sort((a, b) => b.revision - a.revision);
  return (
    <div className="panel">
      <h2>{t("revisions")}</h2>
      <div className="revs" data-testid="revisions">
        {ordered.map((r) => {
          const before = revisions.find((x) => x.revision === r.revision - 1);
          return (
            <div key={r.revision} className="rev" data-revision={r.revision}>
              <div className="rev-head">
                <span>
                  <strong>
                    {t("revision")} {r.revision}
                  </strong>{" "}
                  <span className="muted">{r.kind === "machine" ? t("machine") : t("correction")}</span>{" "}
                  <span data-testid="rev-author">{r.author ?? "—"}</span>{" "}
                  <span className="muted">{new Date(r.created_at).toLocaleString(lang)}</span>
                </span>
                <span className="rev-actions">
                  <button onClick={() => setOpen(open === r.revision ? null : r.revision)} title="diff">
                    ±
                  </button>
                  {editable && r.revision !== current && <button onClick={() => onRestore(r.revision)}>{t("restore")}</button>}
                </span>
              </div>
              {(open === r.revision || r.revision === current) && before && (
                <div style={{ marginTop: 4 }}>
                  <Diff pieces={wordDiff(before.text, r.text)} />
                </div>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}
