// The dashboard's latency plot (www/charts.js) as plain SVG text, in Node: every point and
// grid line lands inside the plot, whatever the latencies (one point, all equal, equal to a
// tick value, spread over decades).
import assert from "node:assert/strict";
import { test } from "node:test";
import { latencySvg } from "../../www/charts.js";

const numbers = (svg, tag, attr) => [...svg.matchAll(new RegExp(`<${tag}[^>]*\\s${attr}="([^"]*)"`, "g"))].map((m) => Number(m[1]));

/** Plots `latencies` (one point every 250 ms) and checks every coordinate. */
function checkPlot(latencies) {
  const points = latencies.map((latency, i) => ({ at: 1_000_000 + i * 250, latency, state: "done" }));
  const svg = latencySvg(points);
  const what = `latencies ${JSON.stringify(latencies)}`;
  assert.doesNotMatch(svg, /NaN|Infinity/, what);
  const lines = numbers(svg, "line", "y1");
  assert.ok(lines.length >= 3, `two grid lines at least, and the axis: ${lines} (${what})`);
  // The plot is 220 high with 12 above and 30 below: y runs from 12 to 190.
  const dots = numbers(svg, "circle", "cy");
  assert.equal(dots.length, latencies.length, what);
  for (const y of [...lines, ...dots]) assert.ok(y >= 12 - 1e-9 && y <= 190 + 1e-9, `${y} in [12, 190] (${what})`);
}

const cases = {
  "one point on a tick value": [5],
  "one point between ticks": [7],
  "all equal, on a tick value": [50, 50, 50],
  "all at the 1 ms floor": [0, 0.5, 1],
  "one second exactly": [1000, 1000],
  "a tight cluster": [1200, 1300, 2500],
  "over four decades": [3, 40, 700, 12_000],
};
for (const [name, latencies] of Object.entries(cases)) {
  test(`latency plot, ${name}: every coordinate a number inside the plot`, () => checkPlot(latencies));
}

test("latency plot, 300 seeded sets of 1–4 latencies, half on tick values: every coordinate inside", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = () => (random() < 0.5 ? [1, 2, 5][Math.floor(random() * 3)] * 10 ** Math.floor(random() * 5) : random() * 10 ** (random() * 5));
  for (let i = 0; i < 300; i++) checkPlot(Array.from({ length: 1 + Math.floor(random() * 4) }, pick));
});
