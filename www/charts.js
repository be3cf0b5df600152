// The two plots, drawn as plain SVG text (no chart library): counts by state, and the
// latency of each result (time from send to the dashboard seeing it) against when it
// arrived. Colours come from the stylesheet through the `s-<state>` classes.

/** The CSS class of a state ("timed out" → "s-timed-out"). */
export const stateClass = (state) => `s-${state.replace(/\s+/g, "-")}`;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Milliseconds as a short human duration. */
export function duration(ms) {
  if (ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * Lines of a logarithmic latency axis from `min` to `max` ms: 1-2-5 steps when the data
 * spans less than two decades (so a 1.2–2.5 s cluster is not squeezed into one band),
 * otherwise powers of ten; the first line is at or below `min`, the last at or above `max`,
 * and there are always two (candidates run past `max`: when every latency equals the last
 * candidate, a single line would leave the axis without a range).
 */
function logTicks(min, max) {
  const steps = Math.log10(max / min) < 2 ? [1, 2, 5] : [1];
  const all = [];
  for (let e = Math.floor(Math.log10(min)); all.length < 2 || all.at(-1) <= max; e++) {
    for (const f of steps) all.push(f * 10 ** e);
  }
  const first = all.findLastIndex((v) => v <= min);
  const last = all.findIndex((v) => v >= max);
  return all.slice(first, Math.max(last, first + 1) + 1);
}

/** A "nice" upper bound and tick step for an axis reaching `max`. */
function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const rough = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= rough);
  return { top: Math.ceil(max / step) * step, step };
}

/** Horizontal bars, one per state, labelled with the count. */
export function countsSvg(states, counts) {
  const w = 260, rowH = 34, left = 70, right = 40;
  const h = states.length * rowH;
  const max = Math.max(1, ...states.map((s) => counts[s] ?? 0));
  const rows = states.map((s, i) => {
    const n = counts[s] ?? 0;
    const y = i * rowH;
    const bw = ((w - left - right) * n) / max;
    return `<g class="${stateClass(s)}">
      <text class="axis-label" x="${left - 8}" y="${y + 21}" text-anchor="end">${esc(s)}</text>
      <rect class="track" x="${left}" y="${y + 8}" width="${w - left - right}" height="${rowH - 16}" rx="4"/>
      <rect class="bar" x="${left}" y="${y + 8}" width="${Math.max(n ? 3 : 0, bw).toFixed(1)}" height="${rowH - 16}" rx="4"/>
      <text class="count" x="${left + Math.max(bw, 0) + 6}" y="${y + 21}">${n}</text>
    </g>`;
  });
  const label = states.map((s) => `${counts[s] ?? 0} ${s}`).join(", ");
  return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="Messages by state: ${esc(label)}">${rows.join("")}</svg>`;
}

/**
 * Latency (y, logarithmic: a 5 ms result and a 5 s one are both readable) against arrival
 * time (x, seconds since the first point). `points` are `{ at, latency, state }`; at most
 * the last `limit` are drawn.
 */
export function latencySvg(points, { limit = 2000 } = {}) {
  const w = 560, h = 220, left = 56, right = 12, top = 12, bottom = 30;
  const shown = points.length > limit ? points.slice(-limit) : points;
  if (!shown.length) {
    return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="Latency: no results yet">
      <text class="empty" x="${w / 2}" y="${h / 2}" text-anchor="middle">Latency appears here as results arrive</text></svg>`;
  }
  const t0 = Math.min(...shown.map((p) => p.at));
  const xs = niceScale(Math.max(...shown.map((p) => p.at - t0)) / 1000, 6);
  const lats = shown.map((p) => Math.max(1, p.latency));
  const ticks = logTicks(Math.min(...lats), Math.max(...lats));
  const [lo, hi] = [Math.log10(ticks[0]), Math.log10(ticks.at(-1))];
  const px = (at) => left + (((at - t0) / 1000) / xs.top) * (w - left - right);
  const py = (ms) => h - bottom - ((Math.log10(Math.max(1, ms)) - lo) / (hi - lo)) * (h - top - bottom);
  const grid = [];
  for (const v of ticks) {
    const y = py(v).toFixed(1);
    grid.push(`<line class="grid" x1="${left}" x2="${w - right}" y1="${y}" y2="${y}"/>`,
      `<text class="axis-label" x="${left - 6}" y="${Number(y) + 4}" text-anchor="end">${v < 1000 ? `${v} ms` : `${v / 1000} s`}</text>`);
  }
  for (let v = 0; v <= xs.top + 1e-9; v += xs.step) {
    const x = px(t0 + v * 1000).toFixed(1);
    grid.push(`<text class="axis-label" x="${x}" y="${h - bottom + 16}" text-anchor="middle">${+v.toFixed(2)} s</text>`);
  }
  const dots = shown.map((p) => `<circle class="${stateClass(p.state)}" cx="${px(p.at).toFixed(1)}" cy="${py(p.latency).toFixed(1)}" r="3.5"/>`);
  const label = `Latency of ${shown.length} results: ${latencySummary(shown)}`;
  return `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}">
    ${grid.join("")}
    <line class="axis" x1="${left}" x2="${w - right}" y1="${h - bottom}" y2="${h - bottom}"/>
    <g class="dots">${dots.join("")}</g></svg>`;
}

/** Median, 95th percentile and max of the latencies, for the summary line. */
export function latencySummary(points) {
  if (!points.length) return "no results yet";
  const sorted = points.map((p) => p.latency).sort((a, b) => a - b);
  const q = (f) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
  return `median ${duration(q(0.5))}, 95th percentile ${duration(q(0.95))}, max ${duration(sorted.at(-1))}`;
}
