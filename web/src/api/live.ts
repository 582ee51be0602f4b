// Live card updates over /api/ws. A subscription is answered with a snapshot read from the database,
// then events; after a dropped connection this reconnects (backing off) and subscribes again, so the
// snapshot resyncs whatever was missed while it was away.
import type { Task } from "./client";

export type LiveState = "connecting" | "live" | "offline";

export type Progress = { stage: string; done: number; total: number };

export type LiveHandlers = {
  /** Whole tasks: the snapshot, and every status change or correction. */
  onTasks: (tasks: Task[]) => void;
  onProgress?: (taskId: string, progress: Progress) => void;
  onState?: (state: LiveState) => void;
};

type Frame = {
  type?: string;
  tasks?: Task[];
  task?: Task;
  task_id?: string;
  stage?: string;
  done?: number;
  total?: number;
};

export function socketUrl(location: Location = window.location): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`;
}

/** Follows a batch (or some tasks) until the returned function is called. */
export function follow(subscription: { batch: string } | { tasks: string[] }, handlers: LiveHandlers): () => void {
  let socket: WebSocket | null = null;
  let stopped = false;
  let delay = 500;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = () => {
    handlers.onState?.("connecting");
    const ws = new WebSocket(socketUrl());
    socket = ws;
    ws.onopen = () => {
      delay = 500;
      ws.send(JSON.stringify({ op: "subscribe", ...subscription }));
    };
    ws.onmessage = (event) => {
      const frame = JSON.parse(String(event.data)) as Frame;
      if (frame.type === "snapshot" && frame.tasks) {
        handlers.onState?.("live");
        handlers.onTasks(frame.tasks);
      } else if (frame.task) {
        handlers.onTasks([frame.task]);
      } else if (frame.type === "task.progress" && frame.task_id) {
        handlers.onProgress?.(frame.task_id, { stage: frame.stage ?? "", done: frame.done ?? 0, total: frame.total ?? 0 });
      }
    };
    ws.onclose = () => {
      if (stopped) return;
      handlers.onState?.("offline");
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
  };
}
