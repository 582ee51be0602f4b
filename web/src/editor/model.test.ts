import { describe, expect, it } from "vitest";
import { wordDiff } from "./diff";
import { addEdit, applyAll, applyEdit, docOf, insertMark, patchRequest, plainText, type Doc } from "./model";

const doc: Doc = docOf({
  width: 1000,
  height: 600,
  lines: [
    { words: [{ text: "зима", box: [10, 10, 110, 50] }, { text: "белая", box: [120, 10, 250, 50] }] },
    { words: [{ text: "снег", box: [10, 60, 110, 100] }] },
  ],
});

describe("edits to PATCH", () => {
  it("sends one PATCH with every pending edit, in order, against the revision edited", () => {
    const pending = [
      { op: "edit_word" as const, line: 0, word: 0, text: "зима\u0301" },
      { op: "delete_word" as const, line: 1, word: 0 },
    ];
    expect(patchRequest(3, pending)).toEqual({ header: { "if-match": '"3"' }, body: { edits: pending } });
    expect(() => patchRequest(3, [])).toThrow();
  });

  it("retyping the same word twice is one edit; another word is another edit", () => {
    let pending = addEdit([], { op: "edit_word", line: 0, word: 0, text: "зим" });
    pending = addEdit(pending, { op: "edit_word", line: 0, word: 0, text: "зима\u0301" });
    expect(pending).toEqual([{ op: "edit_word", line: 0, word: 0, text: "зима\u0301" }]);
    pending = addEdit(pending, { op: "edit_word", line: 0, word: 1, text: "бела\u0301я" });
    expect(pending).toHaveLength(2);
    pending = addEdit(pending, { op: "delete_word", line: 1, word: 0 });
    pending = addEdit(pending, { op: "delete_word", line: 0, word: 0 });
    expect(pending).toHaveLength(4); // deletions never merge: each removes a word
  });

  it("previews edits the way the server applies them, indexes shifting after each", () => {
    const after = applyAll(doc, [
      { op: "split_word", line: 0, word: 1, texts: ["бе", "лая"] },
      { op: "join_words", line: 0, word: 1, count: 2 },
      { op: "edit_word", line: 0, word: 0, text: "зима\u0301" },
      { op: "delete_word", line: 1, word: 0 },
    ]);
    expect(plainText(after)).toBe("зима\u0301 белая");
    expect(after.lines).toHaveLength(1); // the emptied line went
    expect(after.lines[0]!.words[1]!.box).toEqual([120, 10, 250, 50]); // split then joined: the same box
  });

  it("splits a box by letter count and keeps boxes of a retyped line with as many words", () => {
    const split = applyEdit(doc, { op: "split_word", line: 1, word: 0, texts: ["с", "нег"] });
    expect(split.lines[1]!.words.map((w) => w.box)).toEqual([
      [10, 60, 35, 100],
      [35, 60, 110, 100],
    ]);
    const retyped = applyEdit(doc, { op: "edit_line", line: 0, text: "зима\u0301 бе\u0301лая" });
    expect(retyped.lines[0]!.words.map((w) => w.box)).toEqual(doc.lines[0]!.words.map((w) => w.box));
    const boxed = applyEdit(doc, { op: "set_box", line: 1, word: 0, box: [5, 55, 115, 105] });
    expect(boxed.lines[1]!.words[0]!.box).toEqual([5, 55, 115, 105]);
  });

  it("refuses an edit of a word that is not there", () => {
    expect(() => applyEdit(doc, { op: "delete_word", line: 5, word: 0 })).toThrow();
    expect(() => applyEdit(doc, { op: "edit_word", line: 0, word: 0, text: "  " })).toThrow();
  });

  it("puts a stress mark right after the letter before the caret", () => {
    expect(insertMark("зима", 4, "\u0301")).toEqual({ text: "зима\u0301", caret: 5 });
    expect(insertMark("зима", 2, "\u0301")).toEqual({ text: "зи\u0301ма", caret: 3 });
  });
});

describe("word diff", () => {
  it("marks what was added and removed, word by word", () => {
    expect(wordDiff("зима белая снег", "зима\u0301 белая")).toEqual([
      { kind: "removed", text: "зима" },
      { kind: "added", text: "зима\u0301" },
      { kind: "same", text: "белая" },
      { kind: "removed", text: "снег" },
    ]);
  });
});
