// Draws bench/plot.svg from the results of bench/run.mjs: throughput by value size, and
// wake latency, each on a log scale (the contenders differ by orders of magnitude).

const COLORS = { ours: "#2563eb", plainJs: "#9ca3af", python: "#f59e0b" };
const LABELS = { ours: "dramatiq-results", plainJs: "plain JS", python: "Python Dramatiq" };

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** A bar chart panel: groups of bars on a log axis. */
function panel({ x, y, width, height, title, unit, groups, series }) {
  const all = groups.flatMap((g) => series.map((s) => g.values[s])).filter((v) => v > 0);
  if (all.length === 0) return "";
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const plotTop = y + 30;
  const plotHeight = height - 70;
  const scale = (v) => plotTop + plotHeight - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotHeight;
  const out = [`<text x="${x}" y="${y + 14}" font-size="14" font-weight="600">${esc(title)}</text>`];
  for (let p = Math.log10(lo); p <= Math.log10(hi); p++) {
    const yy = scale(10 ** p);
    out.push(`<line x1="${x + 50}" x2="${x + width}" y1="${yy}" y2="${yy}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${x + 44}" y="${yy + 4}" font-size="10" text-anchor="end">${esc(fmtTick(10 ** p))}</text>`);
  }
  out.push(`<text x="${x}" y="${plotTop - 8}" font-size="10" fill="#6b7280">${esc(unit)} (log)</text>`);
  const groupWidth = (width - 60) / groups.length;
  const barWidth = Math.min(28, (groupWidth - 16) / series.length);
  groups.forEach((g, gi) => {
    const gx = x + 56 + gi * groupWidth;
    series.forEach((s, si) => {
      const v = g.values[s];
      if (!(v > 0)) return;
      const top = scale(v);
      out.push(
        `<rect x="${gx + si * barWidth}" y="${top}" width="${barWidth - 3}" height="${plotTop + plotHeight - top}" fill="${COLORS[s]}"><title>${esc(`${LABELS[s]}: ${fmtTick(v)} ${unit}`)}</title></rect>`,
      );
    });
    out.push(`<text x="${gx + (barWidth * series.length) / 2}" y="${plotTop + plotHeight + 16}" font-size="11" text-anchor="middle">${esc(g.label)}</text>`);
  });
  return out.join("\n");
}

function fmtTick(v) {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return `${+v.toPrecision(3)}`;
}

/** The SVG text for `results` (the object bench/run.mjs writes to results.json). */
export function plot(results) {
  const width = 900;
  const height = 340;
  const tp = results.throughput.rows;
  const throughputPanel = panel({
    x: 10,
    y: 10,
    width: 480,
    height: height - 40,
    title: "Store + get throughput on the in-memory stub",
    unit: "ops/s",
    series: ["ours", "plainJs", "python"],
    groups: Object.entries(tp).map(([label, values]) => ({ label, values })),
  });
  const w = results.wake;
  const wakePanel = panel({
    x: 520,
    y: 10,
    width: 370,
    height: height - 40,
    title: "Wake latency: store → waiter resolves",
    unit: "ms",
    series: ["ours", "python"],
    groups: [
      { label: "p50", values: { ours: w.ours.p50, python: w.python.p50 } },
      { label: "p99", values: { ours: w.ours.p99, python: w.python.p99 } },
    ],
  });
  const legend = Object.entries(LABELS)
    .map(([k, label], i) => `<rect x="${20 + i * 170}" y="${height - 18}" width="12" height="12" fill="${COLORS[k]}"/><text x="${36 + i * 170}" y="${height - 8}" font-size="12">${esc(label)}</text>`)
    .join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">
<rect width="100%" height="100%" fill="white"/>
${throughputPanel}
${wakePanel}
${legend}
</svg>
`;
}
