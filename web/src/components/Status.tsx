import type { TaskStatus } from "../api/client";
import { useI18n } from "../i18n";

export const STATUSES: TaskStatus[] = ["queued", "running", "cancelling", "completed", "failed", "cancelled"];

export function StatusBadge({ status }: { status: TaskStatus }) {
  const { t } = useI18n();
  return (
    <span className={`status ${status}`} data-status={status}>
      {t(`status.${status}`)}
    </span>
  );
}

export function Counts({ counts }: { counts: Partial<Record<TaskStatus, number>> }) {
  const { t } = useI18n();
  return (
    <span className="counts">
      {STATUSES.filter((s) => (counts[s] ?? 0) > 0).map((s) => (
        <span key={s} className={`status ${s}`} data-count={s}>
          {t(`status.${s}`)}: {counts[s]}
        </span>
      ))}
    </span>
  );
}
