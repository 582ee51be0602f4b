// The typed client: every path, parameter and body below is checked against schema.d.ts, which is
// generated from the api's /openapi.json, so a contract change breaks `npm run build`.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Task = components["schemas"]["TaskOut"];
export type TaskStatus = components["schemas"]["TaskStatus"];
export type Transcript = components["schemas"]["TranscriptOut"];
export type Revision = components["schemas"]["RevisionOut"];
export type SearchResult = components["schemas"]["SearchOut"];
export type SearchHit = components["schemas"]["HitOut"];
export type BatchSummary = components["schemas"]["BatchSummaryOut"];
export type Submission = components["schemas"]["SubmissionOut"];
export type CorrectionIn = components["schemas"]["CorrectionIn"];
export type EditIn = CorrectionIn["edits"][number];
export type ExportFormat = "txt" | "json" | "page" | "alto";

export type { components };
export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });

/** What the server said went wrong: every error body of the api has `error` (and often `detail`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail: unknown = null,
  ) {
    super(message);
  }
}

export function errorOf(status: number, body: unknown): ApiError {
  const b = (body ?? {}) as { error?: unknown; detail?: unknown };
  const message = typeof b.error === "string" ? b.error : `HTTP ${status}`;
  return new ApiError(status, message, b.detail ?? null);
}

/** The data of an openapi-fetch answer, or the server's error as an ApiError. */
export function must<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (!result.response.ok || result.data === undefined) throw errorOf(result.response.status, result.error);
  return result.data;
}

export type Session = { state: "anonymous" | "challenge_issued" | "authenticated"; role?: Role; email?: string };
export type Role = "user" | "editor" | "admin";

export async function getSession(): Promise<Session> {
  return must(await api.GET("/api/session")) as Session;
}

/** Every card of a batch in submission order (pages of a document in page order). */
export async function batchTasks(batchId: string): Promise<Task[]> {
  const all: Task[] = [];
  let cursor: string | undefined;
  do {
    const page = must(await api.GET("/api/recognition/tasks", { params: { query: { batch: batchId, limit: 500, cursor } } }));
    all.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return all.sort(byPosition);
}

export function byPosition(a: Task, b: Task): number {
  return (a.batch_position ?? 0) - (b.batch_position ?? 0) || a.created_at.localeCompare(b.created_at);
}

export function exportUrl(kind: "task" | "batch", id: string, format: ExportFormat): string {
  const base = kind === "task" ? `/api/recognition/tasks/${id}/export` : `/api/recognition/batches/${id}/export`;
  return `${base}?format=${format}`;
}

/**
 * Uploads one request of cards with per-file progress. fetch cannot report upload progress, so this one
 * request goes through XMLHttpRequest; its answer is still the schema's SubmissionOut or an ApiError.
 */
export function submitCards(
  files: File[],
  label: string,
  onProgress: (loaded: number, total: number) => void,
): Promise<Submission> {
  const form = new FormData();
  for (const file of files) form.append("images", file, file.name);
  if (label.trim()) form.append("batch_label", label.trim());
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/recognition/tasks");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    xhr.onload = () =>
      xhr.status === 202 ? resolve(xhr.response as Submission) : reject(errorOf(xhr.status, xhr.response));
    xhr.onerror = () => reject(new ApiError(0, "network error"));
    xhr.send(form);
  });
}
