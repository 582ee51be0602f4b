// The transcript line by line beside the scan, and the selected word's form: retype it (a stress mark
// is one click or Alt+1), split it at the caret, join it with the next, delete it, retype its line.
import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import type { EditIn } from "../api/client";
import { useI18n } from "../i18n";
import { insertMark, MARKS, type Doc } from "./model";
import type { Selection } from "./ScanView";

export function TranscriptPane({
  doc,
  selected,
  highlightLine,
  editable,
  onSelect,
  onEdit,
  onNext,
  focusToken,
}: {
  doc: Doc;
  selected: Selection;
  highlightLine?: number;
  editable: boolean;
  onSelect: (s: Selection) => void;
  onEdit: (edit: EditIn) => void;
  onNext: () => void;
  focusToken: number;
}) {
  const { t } = useI18n();
  const word = selected ? doc.lines[selected.line]?.words[selected.word] : undefined;
  const line = selected ? doc.lines[selected.line] : undefined;
  const [text, setText] = useState(word?.text ?? "");
  const [lineText, setLineText] = useState(line?.text ?? "");
  const input = useRef<HTMLInputElement>(null);
  const caret = useRef<number | null>(null);

  useEffect(() => {
    setText(word?.text ?? "");
    setLineText(line?.text ?? "");
  }, [word?.text, line?.text, selected?.line, selected?.word]);
  useEffect(() => {
    if (focusToken && input.current) input.current.focus();
  }, [focusToken]);
  useEffect(() => {
    if (caret.current !== null && input.current) {
      input.current.setSelectionRange(caret.current, caret.current);
      caret.current = null;
    }
  }, [text]);

  const mark = (char: string) => {
    const el = input.current;
    const at = el ? (el.selectionStart ?? text.length) : text.length;
    const next = insertMark(text, at, char);
    caret.current = next.caret;
    setText(next.text);
    el?.focus();
  };
  const accept = (then?: "next") => {
    if (!selected || !word) return;
    if (text.trim() && text !== word.text) onEdit({ op: "edit_word", line: selected.line, word: selected.word, text });
    if (then) onNext();
  };
  const keys = (e: KeyboardEvent<HTMLInputElement>) => {
    const index = /^Digit([1-6])$/.exec(e.code);
    if (e.altKey && index) {
      e.preventDefault();
      mark(MARKS[Number(index[1]) - 1]!.char);
    } else if (e.key === "Enter") {
      e.preventDefault();
      accept("next");
    } else if (e.key === "Escape") {
      setText(word?.text ?? "");
      input.current?.blur();
    }
  };
  const split = () => {
    if (!selected || !word) return;
    const at = input.current?.selectionStart ?? 0;
    const parts = text.includes(" ") ? text.split(/\s+/).filter(Boolean) : [text.slice(0, at), text.slice(at)];
    if (parts.length < 2 || parts.some((p) => !p)) return;
    onEdit({ op: "split_word", line: selected.line, word: selected.word, texts: parts });
  };

  return (
    <>
      <div className="panel">
        <h2>{t("transcript")}</h2>
        <div className="lines" data-testid="lines">
          {doc.lines.map((l, li) => (
            <div key={li} className={`tline${highlightLine === li ? " hit" : ""}`} data-line={li}>
              <span className="num">{li + 1}</span>
              {l.words.map((w, wi) => (
                <span
                  key={wi}
                  className={`tword${selected?.line === li && selected.word === wi ? " selected" : ""}`}
                  data-word={`${li}-${wi}`}
                  onClick={() => onSelect({ line: li, word: wi })}
                >
                  {w.text}
                </span>
              ))}
            </div>
          ))}
        </div>
      </div>
      {editable && selected && word && (
        <div className="panel wordform">
          <label className="muted">
            {t("wordText")} ({selected.line + 1}:{selected.word + 1})
          </label>
          <input
            ref={input}
            className="word"
            data-testid="word-input"
            value={text}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={keys}
            spellCheck={false}
          />
          <div className="palette" aria-label={t("marks")}>
            {MARKS.map((m, i) => (
              <button key={m.char} type="button" title={m.name} data-mark={i + 1} onMouseDown={(e) => e.preventDefault()} onClick={() => mark(m.char)}>
                {m.char === "\u203F" ? m.char : `а${m.char}`}
                <kbd>Alt+{i + 1}</kbd>
              </button>
            ))}
          </div>
          <div className="row">
            <button className="primary" onClick={() => accept()} data-testid="accept">
              {t("apply")}
            </button>
            <button onClick={split}>{t("split")}</button>
            <button
              disabled={!line || selected.word + 1 >= line.words.length}
              onClick={() => onEdit({ op: "join_words", line: selected.line, word: selected.word, count: 2 })}
            >
              {t("joinNext")}
            </button>
            <button className="danger" onClick={() => onEdit({ op: "delete_word", line: selected.line, word: selected.word })}>
              {t("deleteWord")}
            </button>
          </div>
          <label className="muted">{t("lineText")}</label>
          <div className="row" style={{ flexWrap: "nowrap" }}>
            <input style={{ flex: 1 }} value={lineText} onChange={(e) => setLineText(e.target.value)} data-testid="line-input" />
            <button
              disabled={!lineText.trim() || lineText === line?.text}
              onClick={() => onEdit({ op: "edit_line", line: selected.line, text: lineText })}
            >
              {t("apply")}
            </button>
          </div>
        </div>
      )}
    </>
  );
}
