import { useEffect, useMemo, useState } from "react";
import { api, byPosition, errorOf, must, type BatchSummary, type Task } from "../api/client";
import { follow, type LiveState, type Progress } from "../api/live";
import { ExportMenu } from "../components/ExportMenu";
import { Counts, StatusBadge } from "../components/Status";
import { VirtualList } from "../components/VirtualList";
import { useI18n } from "../i18n";
import { Link, navigate } from "../router";
import { useSession } from "../session";

const ROW = 40;
const FINISHED = new Set(["completed", "failed", "cancelled"]);

/** One batch, every card with its status and progress arriving live over /api/ws. */
export function BatchPage({ id }: { id: string }) {
  const { t } = useI18n();
  const { may } = useSession();
  const [summary, setSummary] = useState<BatchSummary | null>(null);
  const [tasks, setTasks] = useState<Map<string, Task>>(new Map());
  const [progress, setProgress] = useState<Map<string, Progress>>(new Map());
  const [live, setLive] = useState<LiveState>("connecting");
  const [error, setError] = useState<string | null>(null);
  const [shownAt, setShownAt] = useState<number | null>(null);

  useEffect(() => {
    let alive = true;
    api.GET("/api/recognition/batches/{batch_id}", { params: { path: { batch_id: id } } }).then((r) => {
      if (!alive) return;
      if (r.data) setSummary(r.data);
      else setError(errorOf(r.response.status, r.error).message);
    });
    const stop = follow(
      { batch: id },
      {
        onTasks: (changed) =>
          setTasks((now) => {
            const next = new Map(now);
            for (const task of changed) {
              const old = next.get(task.id);
              // A late event never rolls a card back: the newer update time wins.
              if (!old || (task.updated_at ?? "") >= (old.updated_at ?? "")) next.set(task.id, task);
            }
            return next;
          }),
        onProgress: (taskId, p) => setProgress((now) => new Map(now).set(taskId, p)),
        onState: setLive,
      },
    );
    return () => {
      alive = false;
      stop();
    };
  }, [id]);

  const ordered = useMemo(() => [...tasks.values()].sort(byPosition), [tasks]);
  const counts = useMemo(() => {
    const c: Record<string, number> = {};
    for (const task of ordered) c[task.status] = (c[task.status] ?? 0) + 1;
    return c;
  }, [ordered]);

  useEffect(() => {
    if (ordered.length && shownAt === null) setShownAt(performance.now());
  }, [ordered.length, shownAt]);

  const act = async (what: "cancel" | "retry", taskId?: string) => {
    setError(null);
    const r = taskId
      ? what === "cancel"
        ? await api.POST("/api/recognition/tasks/{task_id}/cancel", { params: { path: { task_id: taskId } } })
        : await api.POST("/api/recognition/tasks/{task_id}/retry", { params: { path: { task_id: taskId } } })
      : what === "cancel"
        ? await api.POST("/api/recognition/batches/{batch_id}/cancel", { params: { path: { batch_id: id } } })
        : await api.POST("/api/recognition/batches/{batch_id}/retry", { params: { path: { batch_id: id } } });
    try {
      must(r as { data?: unknown; error?: unknown; response: Response });
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const remove = async () => {
    if (!window.confirm(t("confirmDeleteBatch"))) return;
    const r = await api.DELETE("/api/recognition/batches/{batch_id}", { params: { path: { batch_id: id } } });
    if (r.response.ok) navigate("/");
    else setError(errorOf(r.response.status, r.error).message);
  };

  const editor = may("editor");
  return (
    <section className="panel" data-testid="batch" data-loaded={ordered.length} data-shown-at={shownAt ?? ""}>
      <div className="row" style={{ marginBottom: 10 }}>
        <h1 style={{ margin: 0 }}>{summary?.label || id.slice(0, 8)}</h1>
        <span className={`status ${live === "live" ? "completed" : "running"}`} data-live={live}>
          {t(live)}
        </span>
        <Counts counts={counts} />
        <span className="muted">
          {ordered.length} {t("cards")}
        </span>
        <span style={{ flex: 1 }} />
        {editor && (
          <>
            <button onClick={() => act("cancel")}>{t("cancelAll")}</button>
            <button onClick={() => act("retry")}>{t("retryFailed")}</button>
            <button className="danger" onClick={remove} data-testid="delete-batch">
              {t("delete")}
            </button>
          </>
        )}
        <ExportMenu kind="batch" id={id} />
      </div>
      {error && <div className="error">{error}</div>}
      <VirtualList
        items={ordered}
        rowHeight={ROW}
        height="calc(100vh - 170px)"
        header={
          <div className="vrow head" style={{ height: ROW }}>
            <span>#</span>
            <span>{t("file")}</span>
            <span>{t("status")}</span>
            <span>{t("progress")}</span>
            <span>{t("transcript")}</span>
            <span />
          </div>
        }
        row={(task, i, style) => {
          const p = progress.get(task.id) ?? task.progress;
          const pct = task.status === "completed" ? 1 : p.total ? p.done / p.total : 0;
          return (
            <div className="vrow" key={task.id} style={style} data-task={task.id} data-status={task.status}>
              <span className="muted">{i + 1}</span>
              <span className="text">
                <Link to={`/cards/${task.id}`}>
                  {task.source ? `${task.source.filename} · ${task.source.page}/${task.source.page_count}` : task.filename}
                </Link>
              </span>
              <span>
                <StatusBadge status={task.status} />
              </span>
              <span className="row" style={{ gap: 6, flexWrap: "nowrap" }}>
                <span className="bar" style={{ width: 90 }}>
                  <div style={{ width: `${Math.round(pct * 100)}%` }} />
                </span>
                <span className="muted" style={{ fontSize: 11 }}>
                  {task.status === "running" ? p.stage : ""}
                </span>
              </span>
              <span className="text muted">{task.text ?? task.error ?? ""}</span>
              <span className="actions">
                {editor && !FINISHED.has(task.status) && task.status !== "cancelling" && (
                  <button onClick={() => act("cancel", task.id)}>{t("cancel")}</button>
                )}
                {editor && FINISHED.has(task.status) && <button onClick={() => act("retry", task.id)}>{t("retry")}</button>}
              </span>
            </div>
          );
        }}
      />
    </section>
  );
}
