import { useRef, useState, type DragEvent } from "react";
import { ApiError, submitCards } from "../api/client";
import { perFile } from "../api/progress";
import { useI18n } from "../i18n";
import { navigate } from "../router";

export function UploadPage() {
  const { t } = useI18n();
  const [files, setFiles] = useState<File[]>([]);
  const [label, setLabel] = useState("");
  const [progress, setProgress] = useState<number[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const add = (list: FileList | null) => {
    if (!list) return;
    setError(null);
    setFiles((now) => [...now, ...Array.from(list)]);
  };
  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    add(e.dataTransfer.files);
  };
  const send = async () => {
    setError(null);
    setProgress(files.map(() => 0));
    try {
      const sizes = files.map((f) => f.size);
      const done = await submitCards(files, label, (loaded, total) => setProgress(perFile(sizes, loaded, total || loaded)));
      setProgress(files.map(() => 1));
      navigate(done.batch ? `/batches/${done.batch.id}` : `/cards/${done.tasks[0]!.id}`);
    } catch (e) {
      setProgress(null);
      setError(e instanceof ApiError ? e : new ApiError(0, String(e)));
    }
  };
  const busy = progress !== null && error === null;
  return (
    <section className="panel">
      <h1>{t("uploadTitle")}</h1>
      <div
        className={`drop${over ? " over" : ""}`}
        data-testid="drop"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <p>{t("dropHere")}</p>
        <button type="button" onClick={() => input.current?.click()}>
          {t("chooseFiles")}
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          data-testid="file-input"
          accept="image/*,application/pdf,.tif,.tiff"
          onChange={(e) => add(e.target.files)}
        />
      </div>
      {files.length > 0 && (
        <div className="files">
          {files.map((f, i) => (
            <div className="file" key={`${f.name}-${i}`} data-file={f.name}>
              <span>{f.name}</span>
              <span className="muted">{(f.size / 1024).toFixed(0)} KiB</span>
              <div className="bar" title={progress ? `${Math.round((progress[i] ?? 0) * 100)}%` : ""}>
                <div style={{ width: `${Math.round((progress?.[i] ?? 0) * 100)}%` }} />
              </div>
            </div>
          ))}
        </div>
      )}
      <div className="row" style={{ marginTop: 14 }}>
        <input placeholder={t("batchLabel")} name="batch_label" value={label} onChange={(e) => setLabel(e.target.value)} />
        <button className="primary" disabled={!files.length || busy} onClick={send} data-testid="send">
          {busy ? t("uploading") : t("send")}
        </button>
        {files.length > 0 && !busy && (
          <button
            onClick={() => {
              setFiles([]);
              setError(null);
            }}
          >
            ✕
          </button>
        )}
      </div>
      {error && (
        <div className="error" style={{ marginTop: 12 }} data-testid="upload-error">
          <strong>{t("refused")}:</strong> {error.message}
          {error.detail != null && <pre style={{ margin: "6px 0 0", whiteSpace: "pre-wrap" }}>{JSON.stringify(error.detail)}</pre>}
        </div>
      )}
    </section>
  );
}
