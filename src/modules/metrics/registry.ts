// A minimal Prometheus text-format registry: counters and histograms keyed by label values,
// gauges read at scrape time. Recording is a map lookup and a few additions, no allocation per
// observation once a series exists.

type Labels = Record<string, string | number>;

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const renderLabels = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};
const num = (n: number) => (Number.isInteger(n) ? String(n) : String(+n.toPrecision(12)));

export class Counter {
  private readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** `key` identifies the label set; `labels` is only read the first time that key is seen. */
  inc(key: string, labels: () => Labels, by = 1) {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labels(), value: 0 }));
    s.value += by;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) lines.push(`${this.name}${renderLabels(s.labels)} ${num(s.value)}`);
    return lines.join("\n");
  }
}

export class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: Float64Array; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}

  observe(key: string, labels: () => Labels, value: number) {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labels(), counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
    s.sum += value;
    s.count++;
    // Non-cumulative here, cumulated at render: one increment per observation.
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        s.counts[i]!++;
        break;
      }
    }
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        lines.push(`${this.name}_bucket${renderLabels({ ...s.labels, le: num(le) })} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${renderLabels({ ...s.labels, le: "+Inf" })} ${s.count}`);
      lines.push(`${this.name}_sum${renderLabels(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${renderLabels(s.labels)} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** A value read when scraped (open sockets, file sizes, memory). */
export function gauge(name: string, help: string, samples: [Labels, number][], type: "gauge" | "counter" = "gauge"): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${renderLabels(labels)} ${num(value)}`);
  return lines.join("\n");
}
