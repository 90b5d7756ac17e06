// "Did you mean …?" for names a person typed: the known names closest to what was
// typed (edit distance, with a swap of two neighbours counted as one edit, as in most
// typos), or the ones it is a prefix of.

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known names a typed one most likely meant: those within a third of its length
 * (at least 1, at most 3 edits), nearest first, else those it is a prefix of.
 */
function closest(typed: string, known: Iterable<string>, max = 3): string[] {
  const names = [...new Set(known)];
  const limit = Math.max(1, Math.min(3, Math.floor(typed.length / 3)));
  const near = names
    .map((n) => ({ n, d: editDistance(typed.toLowerCase(), n.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d || x.n.localeCompare(y.n))
    .map((x) => x.n);
  if (near.length) return near.slice(0, max);
  return typed ? names.filter((n) => n.startsWith(typed)).sort().slice(0, max) : [];
}

/** `did you mean "web1"?` / `did you mean "web1" or "web2"?`, or undefined when nothing is close. */
export function didYouMean(typed: string, known: Iterable<string>): string | undefined {
  const c = closest(typed, known);
  if (c.length === 0) return undefined;
  const quoted = c.map((n) => `"${n}"`);
  return `did you mean ${quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`}?`;
}
