import { useCallback, useEffect, useRef, useState } from "react";
import { api, errorOf, must, type EditIn, type Revision, type Task, type Transcript } from "../api/client";
import { follow } from "../api/live";
import { ExportMenu } from "../components/ExportMenu";
import { StatusBadge } from "../components/Status";
import { wordDiff } from "../editor/diff";
import { addEdit, applyAll, docOf, EditError, patchRequest, plainText, type Doc } from "../editor/model";
import { Diff, Revisions } from "../editor/Revisions";
import { ScanView, type Selection } from "../editor/ScanView";
import { Similar } from "../editor/Similar";
import { TranscriptPane } from "../editor/TranscriptPane";
import { useI18n } from "../i18n";
import { Link, navigate } from "../router";
import { useSession } from "../session";

type Conflict = { latest: Transcript };

/** One saved edit in a few words: what it did and where (line:word, counting from 1). */
function describe(op: Record<string, unknown>): string {
  const at = typeof op.line === "number" ? ` ${op.line + 1}${typeof op.word === "number" ? `:${op.word + 1}` : ""}` : "";
  const text = typeof op.text === "string" ? ` «${op.text}»` : Array.isArray(op.box) ? ` [${op.box.map((v) => Math.round(Number(v))).join(", ")}]` : "";
  return `${String(op.op)}${at}${text}`;
}

/**
 * The card editor. Edits are kept locally (previewed with the server's rules) until saved; a save is one
 * PATCH carrying them all with If-Match naming the revision they were made on. When someone else saved
 * first (412) the editor shows what they changed and can re-apply the user's edits on top of theirs.
 */
export function CardPage({ id, line }: { id: string; line?: number }) {
  const { t } = useI18n();
  const { may } = useSession();
  const editable = may("editor");
  const [task, setTask] = useState<Task | null>(null);
  const [base, setBase] = useState<Transcript | null>(null);
  const [pending, setPending] = useState<EditIn[]>([]);
  const [selected, setSelected] = useState<Selection>(null);
  const [revisions, setRevisions] = useState<Revision[]>([]);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [focusToken, setFocusToken] = useState(0);
  const [replacing, setReplacing] = useState<string | null>(null);
  const pendingRef = useRef(pending);
  pendingRef.current = pending;

  const loadTranscript = useCallback(async () => {
    const r = await api.GET("/api/recognition/tasks/{task_id}/transcript", { params: { path: { task_id: id } } });
    if (r.response.status === 404) return null;
    const transcript = must(r);
    const history = must(await api.GET("/api/recognition/tasks/{task_id}/transcript/revisions", { params: { path: { task_id: id } } }));
    setRevisions(history.revisions);
    return transcript;
  }, [id]);

  useEffect(() => {
    let alive = true;
    api.GET("/api/recognition/tasks/{task_id}", { params: { path: { task_id: id } } }).then((r) => {
      if (!alive) return;
      if (r.data) setTask(r.data);
      else setError(errorOf(r.response.status, r.error).message);
    });
    loadTranscript().then((tr) => alive && tr && setBase(tr), (e: Error) => alive && setError(e.message));
    // Live: the card's status, and corrections saved elsewhere (taken in at once when nothing is pending).
    const stop = follow({ tasks: [id] }, {
      onTasks: ([live]) => {
        if (!live || !alive) return;
        setTask(live);
        setBase((now) => {
          if (live.revision !== null && live.revision !== now?.latest_revision && pendingRef.current.length === 0)
            void loadTranscript().then((tr) => alive && tr && setBase(tr));
          return now;
        });
      },
    });
    return () => {
      alive = false;
      stop();
    };
  }, [id, loadTranscript]);

  const baseDoc: Doc | null = base ? docOf(base.transcript) : null;
  let doc: Doc | null = baseDoc;
  try {
    doc = baseDoc ? applyAll(baseDoc, pending) : null;
  } catch {
    doc = baseDoc;
  }

  const edit = (e: EditIn) => {
    if (!baseDoc) return;
    try {
      const next = addEdit(pending, e);
      applyAll(baseDoc, next); // refuse locally what the server would refuse
      setPending(next);
      setError(null);
      setNotice(null);
      if (e.op === "delete_word" || e.op === "join_words") setSelected(null);
    } catch (err) {
      setError(err instanceof EditError ? err.message : String(err));
    }
  };

  const step = useCallback(
    (by: number) => {
      if (!doc) return;
      const flat = doc.lines.flatMap((l, li) => l.words.map((_, wi) => ({ line: li, word: wi })));
      if (!flat.length) return;
      const at = selected ? flat.findIndex((s) => s.line === selected.line && s.word === selected.word) : -1;
      setSelected(flat[Math.max(0, Math.min(flat.length - 1, at + by))]!);
    },
    [doc, selected],
  );

  const save = async (edits: EditIn[] = pending, revision = base?.latest_revision) => {
    if (revision === undefined || !edits.length) return;
    setError(null);
    const request = patchRequest(revision, edits);
    const r = await api.PATCH("/api/recognition/tasks/{task_id}/transcript", {
      params: { path: { task_id: id }, header: request.header },
      body: request.body,
    });
    if (r.response.status === 412) {
      const latest = await loadTranscript();
      if (latest) setConflict({ latest });
      return;
    }
    try {
      const saved = must(r);
      setBase(saved);
      setPending([]);
      setConflict(null);
      setNotice(`${t("saved")}: ${t("revision")} ${saved.revision}`);
      const history = must(await api.GET("/api/recognition/tasks/{task_id}/transcript/revisions", { params: { path: { task_id: id } } }));
      setRevisions(history.revisions);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const reapply = async () => {
    if (!conflict) return;
    setBase(conflict.latest);
    await save(pending, conflict.latest.latest_revision);
  };

  useEffect(() => {
    const keys = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      const typing = target.closest("input, textarea");
      // Tab walks the words only from the page or the scan, so it still moves focus between buttons.
      const tab = e.key === "Tab" && (target === document.body || target.closest(".scan, .lines") !== null);
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
        e.preventDefault();
        void save();
      } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z" && !typing) {
        e.preventDefault();
        setPending((p) => p.slice(0, -1));
      } else if (!typing && (e.key === "ArrowRight" || (tab && !e.shiftKey))) {
        e.preventDefault();
        step(1);
      } else if (!typing && (e.key === "ArrowLeft" || (tab && e.shiftKey))) {
        e.preventDefault();
        step(-1);
      } else if (!typing && e.key === "Enter" && selected) {
        e.preventDefault();
        setFocusToken((n) => n + 1);
      }
    };
    window.addEventListener("keydown", keys);
    return () => window.removeEventListener("keydown", keys);
  });

  const select = (s: Selection) => {
    setSelected(s);
    setFocusToken((n) => n + 1);
  };
  const remove = async () => {
    if (!window.confirm(t("confirmDeleteCard"))) return;
    const r = await api.DELETE("/api/recognition/tasks/{task_id}", { params: { path: { task_id: id } } });
    if (r.response.ok) navigate(task?.batch_id ? `/batches/${task.batch_id}` : "/");
    else setError(errorOf(r.response.status, r.error).message);
  };
  const author = (n: number) => revisions.find((r) => r.revision === n)?.author ?? "—";

  return (
    <div data-testid="card" data-revision={base?.latest_revision ?? ""} data-pending={pending.length}>
      <div className="row" style={{ marginBottom: 10 }}>
        {task?.batch_id && <Link to={`/batches/${task.batch_id}`}>← {t("back")}</Link>}
        <h1 style={{ margin: 0 }}>{task?.filename ?? t("card")}</h1>
        {task && <StatusBadge status={task.status} />}
        {base && (
          <span className="muted" data-testid="revision">
            {t("revision")} {base.latest_revision}
          </span>
        )}
        <span style={{ flex: 1 }} />
        {editable && (
          <>
            <span className="muted">
              {t("pending")}: {pending.length}
            </span>
            <button onClick={() => setPending((p) => p.slice(0, -1))} disabled={!pending.length}>
              {t("undo")}
            </button>
            <button onClick={() => doc && setReplacing(plainText(doc))} disabled={!doc}>
              {t("replaceAll")}
            </button>
            <button className="primary" onClick={() => save()} disabled={!pending.length} data-testid="save">
              {t("save")}
            </button>
            <button className="danger" onClick={remove} data-testid="delete-card">
              {t("delete")}
            </button>
          </>
        )}
        <ExportMenu kind="task" id={id} />
      </div>
      {error && <div className="error" data-testid="card-error">{error}</div>}
      {notice && <div className="notice" data-testid="notice">{notice}</div>}
      {!editable && <div className="notice">{t("readOnly")}</div>}
      <div className="editor" style={{ marginTop: 10 }}>
        <ScanView
          src={`/api/recognition/tasks/${id}/image`}
          doc={doc}
          selected={selected}
          highlightLine={line}
          editable={editable}
          onSelect={select}
          onBox={(l, w, box) => edit({ op: "set_box", line: l, word: w, box })}
        />
        <div className="side">
          {doc ? (
            <TranscriptPane
              doc={doc}
              selected={selected}
              highlightLine={line}
              editable={editable}
              onSelect={select}
              onEdit={edit}
              onNext={() => step(1)}
              focusToken={focusToken}
            />
          ) : (
            <div className="panel muted">{t("noTranscript")}</div>
          )}
          {editable && (
            <div className="muted" style={{ fontSize: 12 }}>
              {t("shortcuts")}
            </div>
          )}
          <Revisions revisions={revisions} current={base?.latest_revision ?? null} editable={editable} onRestore={(n) => save([{ op: "restore", revision: n }])} />
          <Similar taskId={id} />
        </div>
      </div>
      {conflict && (
        <div className="modal-back">
          <div className="modal" data-testid="conflict">
            <h2>{t("conflictTitle")}</h2>
            <div>{t("conflictBody", { rev: conflict.latest.latest_revision, author: author(conflict.latest.latest_revision) })}</div>
            <div className="panel" data-testid="their-changes">
              {revisions
                .filter((r) => base && r.revision > base.latest_revision)
                .map((r) => (
                  <div key={r.revision}>
                    <strong>
                      {t("revision")} {r.revision}
                    </strong>{" "}
                    <span className="muted">{r.author ?? "—"}</span>: {r.operations.map(describe).join("; ")}
                  </div>
                ))}
              <Diff pieces={wordDiff(base?.text ?? "", conflict.latest.text)} />
            </div>
            <div className="row">
              <button className="primary" onClick={reapply} data-testid="reapply">
                {t("reapply")}
              </button>
              <button
                onClick={() => {
                  setBase(conflict.latest);
                  setPending([]);
                  setConflict(null);
                }}
              >
                {t("discard")}
              </button>
            </div>
          </div>
        </div>
      )}
      {replacing !== null && (
        <div className="modal-back">
          <div className="modal">
            <h2>{t("replaceAll")}</h2>
            <textarea rows={10} value={replacing} onChange={(e) => setReplacing(e.target.value)} data-testid="replace-text" />
            <div className="row">
              <button
                className="primary"
                onClick={() => {
                  edit({ op: "replace_text", text: replacing });
                  setReplacing(null);
                }}
              >
                {t("apply")}
              </button>
              <button onClick={() => setReplacing(null)}>{t("cancel")}</button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
