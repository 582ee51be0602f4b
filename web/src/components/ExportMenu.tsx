import { exportUrl, type ExportFormat } from "../api/client";
import { useI18n } from "../i18n";

const FORMATS: { format: ExportFormat; label: string }[] = [
  { format: "txt", label: "TXT" },
  { format: "json", label: "JSON" },
  { format: "page", label: "PAGE XML" },
  { format: "alto", label: "ALTO XML" },
];

/** Downloads straight from the export routes (the browser saves what Content-Disposition names). */
export function ExportMenu({ kind, id }: { kind: "task" | "batch"; id: string }) {
  const { t } = useI18n();
  return (
    <span className="row" style={{ gap: 4 }}>
      <span className="muted">{t("export")}:</span>
      {FORMATS.map(({ format, label }) => (
        <a key={format} href={exportUrl(kind, id, format)} download data-export={format}>
          <button type="button">{label}</button>
        </a>
      ))}
    </span>
  );
}
