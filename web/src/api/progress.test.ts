import { describe, expect, it } from "vitest";
import { perFile } from "./progress";

describe("per-file upload progress", () => {
  it("fills each file in turn as the one request's bytes go out", () => {
    const sizes = [100, 300];
    expect(perFile(sizes, 0, 400)).toEqual([0, 0]);
    expect(perFile(sizes, 50, 400)).toEqual([0.5, 0]);
    expect(perFile(sizes, 250, 400)).toEqual([1, 0.5]);
    expect(perFile(sizes, 400, 400)).toEqual([1, 1]);
  });

  it("spreads the multipart framing over the files and never passes 100%", () => {
    const [a, b] = perFile([100, 100], 220, 220);
    expect(a).toBe(1);
    expect(b).toBe(1);
    expect(perFile([100, 100], 110, 220)[0]).toBeCloseTo(1);
  });
});
