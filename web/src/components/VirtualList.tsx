import { useEffect, useRef, useState, type ReactNode } from "react";

/**
 * Renders only the rows in view (plus a margin), each ``rowHeight`` pixels tall, so a batch of
 * thousands of cards costs the same to draw and to update as a screenful.
 */
export function VirtualList<T>({
  items,
  rowHeight,
  height,
  header,
  row,
  overscan = 8,
}: {
  items: readonly T[];
  rowHeight: number;
  height: string;
  header?: ReactNode;
  row: (item: T, index: number, style: React.CSSProperties) => ReactNode;
  overscan?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [view, setView] = useState(800);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setView(el.clientHeight);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const head = header ? rowHeight : 0;
  const first = Math.max(0, Math.floor((top - head) / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((top + view) / rowHeight) + overscan);
  const rows = [];
  for (let i = first; i < last; i++)
    rows.push(row(items[i]!, i, { top: i * rowHeight, height: rowHeight }));
  return (
    <div
      ref={box}
      className="vlist"
      style={{ height }}
      onScroll={(e) => setTop(e.currentTarget.scrollTop)}
      data-rows={items.length}
      data-testid="vlist"
    >
      {header}
      {/* The header is sticky in the flow above the rows, so the rows are placed from 0 under it. */}
      <div style={{ height: items.length * rowHeight, position: "relative" }}>{rows}</div>
    </div>
  );
}
