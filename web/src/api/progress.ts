/**
 * Per-file progress from one request's progress: the files go out one after another in the multipart
 * body, so file i is done once the bytes before it and its own have been sent.
 */
export function perFile(sizes: number[], loaded: number, total: number): number[] {
  const overhead = Math.max(0, total - sizes.reduce((a, b) => a + b, 0));
  let before = 0;
  return sizes.map((size) => {
    const start = before + (overhead * before) / Math.max(1, total - overhead);
    before += size;
    return size ? Math.max(0, Math.min(1, (loaded - start) / size)) : loaded >= total ? 1 : 0;
  });
}
