// The transcript as the editor holds it, and the local preview of each edit. The server applies the
// same edits authoritatively (domain/recognition/corrections.py); after a save the editor takes the
// server's transcript, so the preview only has to agree on shape: which lines and words exist, in
// which order (later edits of the same PATCH address words by index after the earlier ones).
import type { EditIn } from "../api/client";

export type BoxTuple = [number, number, number, number];
export type Word = { text: string; box: BoxTuple };
export type Line = { text: string; words: Word[] };
export type Doc = { width: number; height: number; lines: Line[] };

/** The combining marks the text normaliser keeps (domain/recognition/text.py), in palette order. */
export const MARKS: readonly { char: string; name: string }[] = [
  { char: "\u0301", name: "acute (stress)" },
  { char: "\u0302", name: "circumflex" },
  { char: "\u0304", name: "macron" },
  { char: "\u0306", name: "breve" },
  { char: "\u0311", name: "inverted breve" },
  { char: "\u203F", name: "undertie" },
];

export function docOf(transcript: Record<string, unknown>): Doc {
  const raw = transcript as { width: number; height: number; lines: { words: { text: string; box: number[] }[] }[] };
  return {
    width: raw.width,
    height: raw.height,
    lines: raw.lines.map((l) => line(l.words.map((w) => ({ text: w.text, box: w.box.slice(0, 4) as BoxTuple })))),
  };
}

function line(words: Word[]): Line {
  return { text: words.map((w) => w.text).join(" "), words };
}

export function plainText(doc: Doc): string {
  return doc.lines.map((l) => l.text).join("\n");
}

function splitBox(box: BoxTuple, texts: string[], at?: number[] | null): BoxTuple[] {
  const [x1, y1, x2, y2] = box;
  let cuts = at ?? [];
  if (!at) {
    const letters = texts.reduce((n, t) => n + [...t].length, 0) || texts.length;
    let run = 0;
    cuts = texts.slice(0, -1).map((t) => {
      run += [...t].length;
      return x1 + ((x2 - x1) * run) / letters;
    });
  }
  const edges = [x1, ...cuts, x2];
  return texts.map((_, i) => [edges[i]!, y1, edges[i + 1]!, y2]);
}

function union(boxes: BoxTuple[]): BoxTuple {
  return [
    Math.min(...boxes.map((b) => b[0])),
    Math.min(...boxes.map((b) => b[1])),
    Math.max(...boxes.map((b) => b[2])),
    Math.max(...boxes.map((b) => b[3])),
  ];
}

function retype(words: Word[], text: string): Word[] {
  const texts = text.split(/\s+/).filter(Boolean);
  if (texts.length === words.length) return words.map((w, i) => ({ ...w, text: texts[i]! }));
  const boxes = splitBox(union(words.map((w) => w.box)), texts);
  return texts.map((t, i) => ({ text: t, box: boxes[i]! }));
}

function withLine(doc: Doc, index: number, words: Word[]): Doc {
  const lines = doc.lines.slice();
  if (words.length) lines[index] = line(words);
  else lines.splice(index, 1); // an emptied line goes, as on the server
  return { ...doc, lines };
}

export class EditError extends Error {}

function wordsOf(doc: Doc, lineIndex: number, wordIndex?: number): Word[] {
  const l = doc.lines[lineIndex];
  if (!l || (wordIndex !== undefined && !l.words[wordIndex])) throw new EditError("no such word");
  return l.words.slice();
}

/** The edit applied to ``doc``, as the server would apply it (boxes approximately). */
export function applyEdit(doc: Doc, edit: EditIn): Doc {
  switch (edit.op) {
    case "edit_word": {
      const words = wordsOf(doc, edit.line, edit.word);
      const texts = edit.text.split(/\s+/).filter(Boolean);
      if (!texts.length) throw new EditError("empty word");
      const boxes = splitBox(words[edit.word]!.box, texts);
      words.splice(edit.word, 1, ...texts.map((t, i) => ({ text: t, box: boxes[i]! })));
      return withLine(doc, edit.line, words);
    }
    case "edit_line": {
      const words = wordsOf(doc, edit.line);
      if (!edit.text.trim()) throw new EditError("empty line");
      return withLine(doc, edit.line, retype(words, edit.text));
    }
    case "split_word": {
      const words = wordsOf(doc, edit.line, edit.word);
      const boxes = splitBox(words[edit.word]!.box, edit.texts, edit.at);
      words.splice(edit.word, 1, ...edit.texts.map((t, i) => ({ text: t, box: boxes[i]! })));
      return withLine(doc, edit.line, words);
    }
    case "join_words": {
      const count = edit.count ?? 2;
      const words = wordsOf(doc, edit.line, edit.word + count - 1);
      const joined = words.slice(edit.word, edit.word + count);
      const text = edit.text ?? joined.map((w) => w.text).join("");
      words.splice(edit.word, count, { text, box: union(joined.map((w) => w.box)) });
      return withLine(doc, edit.line, words);
    }
    case "set_box": {
      const words = wordsOf(doc, edit.line, edit.word);
      words[edit.word] = { ...words[edit.word]!, box: edit.box as BoxTuple };
      return withLine(doc, edit.line, words);
    }
    case "delete_word": {
      const words = wordsOf(doc, edit.line, edit.word);
      words.splice(edit.word, 1);
      return withLine(doc, edit.line, words);
    }
    case "replace_text": {
      const texts = edit.text.split("\n").filter((t) => t.trim());
      const lines = texts.map((t, i) => {
        const old = doc.lines[i];
        if (old) return line(retype(old.words, t));
        const h = doc.lines.length ? doc.lines[doc.lines.length - 1]!.words[0]!.box[3] : 0;
        return line(retype([{ text: "", box: [0, h, doc.width, Math.min(doc.height, h + 40)] }], t));
      });
      return { ...doc, lines };
    }
    case "restore":
      return doc; // the server brings the old revision back; nothing to preview
  }
}

export function applyAll(doc: Doc, edits: readonly EditIn[]): Doc {
  return edits.reduce(applyEdit, doc);
}

/**
 * The pending edits with ``next`` added: retyping the same word, or redrawing the same box, twice in a
 * row is one edit, so a PATCH carries what the user meant rather than every keystroke.
 */
export function addEdit(pending: readonly EditIn[], next: EditIn): EditIn[] {
  const last = pending[pending.length - 1];
  const same =
    last &&
    last.op === next.op &&
    (next.op === "edit_word" || next.op === "set_box") &&
    "word" in last &&
    last.line === next.line &&
    last.word === next.word;
  return same ? [...pending.slice(0, -1), next] : [...pending, next];
}

/** The request a save sends: one PATCH, the edits in order, against the revision they were made on. */
export function patchRequest(revision: number, pending: readonly EditIn[]) {
  if (!pending.length) throw new EditError("nothing to save");
  return { header: { "if-match": `"${revision}"` }, body: { edits: [...pending] } };
}

/** ``text`` with ``mark`` put after the character before ``caret`` (where a combining mark belongs). */
export function insertMark(text: string, caret: number, mark: string): { text: string; caret: number } {
  return { text: text.slice(0, caret) + mark + text.slice(caret), caret: caret + mark.length };
}
