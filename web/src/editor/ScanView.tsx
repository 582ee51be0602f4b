// The scan with its word boxes: wheel or buttons to zoom, drag the background to pan, click a box to
// select its word, drag the selected box's edges to redraw it (one set_box edit when the drag ends).
import { useEffect, useRef, useState, type PointerEvent as ReactPointerEvent } from "react";
import { useI18n } from "../i18n";
import type { BoxTuple, Doc } from "./model";

export type Selection = { line: number; word: number } | null;
type Edge = 0 | 1 | 2 | 3; // x1, y1, x2, y2

export function ScanView({
  src,
  doc,
  selected,
  highlightLine,
  editable,
  onSelect,
  onBox,
}: {
  src: string;
  doc: Doc | null;
  selected: Selection;
  highlightLine?: number;
  editable: boolean;
  onSelect: (s: Selection) => void;
  onBox: (line: number, word: number, box: BoxTuple) => void;
}) {
  const { t } = useI18n();
  const frame = useRef<HTMLDivElement>(null);
  const [scale, setScale] = useState(1);
  const [offset, setOffset] = useState({ x: 0, y: 0 });
  const [natural, setNatural] = useState<{ w: number; h: number } | null>(null);
  const [drag, setDrag] = useState<{ kind: "pan"; x: number; y: number; ox: number; oy: number } | null>(null);
  const [edge, setEdge] = useState<{ edge: Edge; box: BoxTuple } | null>(null);

  const fit = () => {
    const el = frame.current;
    if (!el || !natural) return;
    const s = Math.min(el.clientWidth / natural.w, el.clientHeight / natural.h) * 0.96;
    setScale(s);
    setOffset({ x: (el.clientWidth - natural.w * s) / 2, y: (el.clientHeight - natural.h * s) / 2 });
  };
  useEffect(fit, [natural]);

  // The line a search hit landed on: bring it into view.
  useEffect(() => {
    const el = frame.current;
    const box = highlightLine !== undefined ? lineBox(doc, highlightLine) : null;
    if (!el || !box || !natural) return;
    const s = Math.min(el.clientWidth / natural.w, el.clientHeight / natural.h) * 0.96;
    setScale(s);
    setOffset({ x: (el.clientWidth - natural.w * s) / 2, y: el.clientHeight / 2 - ((box[1] + box[3]) / 2) * s });
  }, [highlightLine, doc, natural]);

  const zoom = (factor: number, cx?: number, cy?: number) => {
    const el = frame.current;
    if (!el) return;
    const x = cx ?? el.clientWidth / 2;
    const y = cy ?? el.clientHeight / 2;
    const next = Math.max(0.05, Math.min(12, scale * factor));
    setOffset({ x: x - ((x - offset.x) * next) / scale, y: y - ((y - offset.y) * next) / scale });
    setScale(next);
  };

  const toCard = (e: { clientX: number; clientY: number }) => {
    const rect = frame.current!.getBoundingClientRect();
    return { x: (e.clientX - rect.left - offset.x) / scale, y: (e.clientY - rect.top - offset.y) / scale };
  };

  const down = (e: ReactPointerEvent) => {
    if ((e.target as Element).closest("rect.word, .handle, .tools")) return;
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    setDrag({ kind: "pan", x: e.clientX, y: e.clientY, ox: offset.x, oy: offset.y });
  };
  const move = (e: ReactPointerEvent) => {
    if (drag) setOffset({ x: drag.ox + e.clientX - drag.x, y: drag.oy + e.clientY - drag.y });
    if (edge) {
      const p = toCard(e);
      const box = edge.box.slice() as BoxTuple;
      box[edge.edge] = edge.edge % 2 === 0 ? p.x : p.y;
      setEdge({ ...edge, box });
    }
  };
  const up = () => {
    setDrag(null);
    if (edge && selected) {
      const [a, b, c, d] = edge.box;
      onBox(selected.line, selected.word, [Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)].map(Math.round) as BoxTuple);
    }
    setEdge(null);
  };

  const sel = selected && doc?.lines[selected.line]?.words[selected.word];
  const selBox = edge?.box ?? sel?.box;
  const hl = highlightLine !== undefined ? lineBox(doc, highlightLine) : null;
  const handle = (which: Edge) => {
    if (!selBox) return null;
    const [x1, y1, x2, y2] = selBox;
    const k = 6 / scale;
    const at = { 0: [x1 - k / 2, y1, k, y2 - y1], 2: [x2 - k / 2, y1, k, y2 - y1], 1: [x1, y1 - k / 2, x2 - x1, k], 3: [x1, y2 - k / 2, x2 - x1, k] }[which];
    return (
      <rect
        key={which}
        className={`handle${which % 2 ? " v" : ""}`}
        data-edge={which}
        x={at[0]}
        y={at[1]}
        width={at[2]}
        height={at[3]}
        onPointerDown={(e) => {
          e.stopPropagation();
          frame.current?.setPointerCapture(e.pointerId);
          setEdge({ edge: which, box: selBox.slice() as BoxTuple });
        }}
      />
    );
  };

  return (
    <div
      ref={frame}
      className={`scan${drag ? " dragging" : ""}`}
      data-testid="scan"
      onPointerDown={down}
      onPointerMove={move}
      onPointerUp={up}
      onWheel={(e) => {
        const rect = frame.current!.getBoundingClientRect();
        zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - rect.left, e.clientY - rect.top);
      }}
    >
      <div className="tools">
        <button onClick={() => zoom(1.25)} title={t("zoomIn")}>＋</button>
        <button onClick={() => zoom(0.8)} title={t("zoomOut")}>−</button>
        <button onClick={fit}>{t("fit")}</button>
      </div>
      <div className="stage" style={{ transform: `translate(${offset.x}px, ${offset.y}px) scale(${scale})` }}>
        <img src={src} alt="" onLoad={(e) => setNatural({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })} />
        {natural && doc && (
          <svg width={natural.w} height={natural.h} viewBox={`0 0 ${doc.width} ${doc.height}`} style={{ width: natural.w, height: natural.h }}>
            {hl && <rect className="line-hit" data-testid="line-hit" x={hl[0] - 4} y={hl[1] - 4} width={hl[2] - hl[0] + 8} height={hl[3] - hl[1] + 8} strokeWidth={2 / scale} />}
            {doc.lines.map((line, li) =>
              line.words.map((w, wi) => {
                const on = selected?.line === li && selected.word === wi;
                const [x1, y1, x2, y2] = on && selBox ? selBox : w.box;
                return (
                  <rect
                    key={`${li}-${wi}`}
                    className={`word${on ? " selected" : ""}`}
                    data-word={`${li}-${wi}`}
                    x={x1}
                    y={y1}
                    width={Math.max(1, x2 - x1)}
                    height={Math.max(1, y2 - y1)}
                    strokeWidth={1.5 / scale}
                    onClick={() => onSelect({ line: li, word: wi })}
                  />
                );
              }),
            )}
            {editable && selBox && ([0, 1, 2, 3] as Edge[]).map(handle)}
          </svg>
        )}
      </div>
    </div>
  );
}

function lineBox(doc: Doc | null, index: number): BoxTuple | null {
  const words = doc?.lines[index]?.words;
  if (!words?.length) return null;
  return [
    Math.min(...words.map((w) => w.box[0])),
    Math.min(...words.map((w) => w.box[1])),
    Math.max(...words.map((w) => w.box[2])),
    Math.max(...words.map((w) => w.box[3])),
  ];
}
