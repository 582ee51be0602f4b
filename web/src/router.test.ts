import { describe, expect, it } from "vitest";
import { parse } from "./router";

describe("routes", () => {
  it("reads every page the api serves index.html for (web.py's CLIENT_PAGES)", () => {
    expect(parse("/", "")).toEqual({ page: "batches" });
    expect(parse("/batches", "")).toEqual({ page: "batches" });
    expect(parse("/batches/b1", "")).toEqual({ page: "batch", id: "b1" });
    expect(parse("/cards/c1", "?line=2")).toEqual({ page: "card", id: "c1", line: 2 });
    expect(parse("/cards/c1", "")).toEqual({ page: "card", id: "c1", line: undefined });
    expect(parse("/search", "?q=%D0%B7%D0%B8%D0%BC%D0%B0")).toEqual({ page: "search", q: "зима" });
    expect(parse("/upload", "")).toEqual({ page: "upload" });
    expect(parse("/sign-in", "")).toEqual({ page: "batches" }); // signed in already: the start page
  });
});
