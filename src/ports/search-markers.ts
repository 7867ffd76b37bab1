// The markers a SearchStore wraps matches in (its hits carry which ones it used): private-use
// characters, which no tokenizer output produces. A message that itself holds one is marked again
// with markers it does not contain. Shared by every adapter (FTS5 highlight(), ts_headline()).
export const MATCH_OPEN = "\uE000";
export const MATCH_CLOSE = "\uE001";

/** Two private-use characters absent from the text (4,000 characters cannot hold all 6,400). */
export function markersFor(content: string): [string, string] {
  const free: string[] = [];
  for (let c = 0xe002; free.length < 2; c++) {
    const ch = String.fromCharCode(c);
    if (!content.includes(ch)) free.push(ch);
  }
  return [free[0]!, free[1]!];
}
