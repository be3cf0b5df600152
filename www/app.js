// The dashboard page: wires the watch list (watch.js), the sources, the demo and the plots
// to the DOM. Rendering is batched: changes mark entries dirty and one animation frame
// redraws their rows, so a burst of a thousand results is one repaint, not a thousand.
import { IndexedDbBackend, KvBackend } from "dramatiq-results";
import { httpAdapter } from "./http-store.js";
import { parseMessages } from "./parse.js";
import { STATES, Watchlist } from "./watch.js";
import { jsonView } from "./json-view.js";
import { countsSvg, duration, latencySummary, latencySvg, stateClass } from "./charts.js";
import { startDemo } from "./demo.js";
import { startDeploymentView } from "./deployment.js";
import { createOperatorView } from "./operator.js";

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

// --- source ---------------------------------------------------------------------------

/** Served by the results gateway (it marks its copy of the page): the deployment by default. */
const servedByGateway = Boolean(document.querySelector('meta[name="dramatiq-results-gateway"]'));
const TOKEN_KEY = "dramatiq-results:token";
/** Origins other than the page's the user agreed to send the token to (this tab only). */
const TRUSTED_KEY = "dramatiq-results:token-origins";

/**
 * The token for requests to `url`: sent to the page's own origin; to another one (a link can
 * point the page anywhere: `?gateway=https://attacker`) only once the user, asked by name,
 * agreed, which this tab then remembers. Otherwise none is sent.
 */
function tokenFor(url) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return "";
  let origin;
  try {
    origin = new URL(url, location.href).origin;
  } catch {
    return "";
  }
  if (origin === location.origin) return token;
  let trusted = [];
  try {
    trusted = JSON.parse(sessionStorage.getItem(TRUSTED_KEY) ?? "[]");
  } catch {
    // Not ours: start over.
  }
  if (Array.isArray(trusted) && trusted.includes(origin)) return token;
  const agreed = confirm(`Send your gateway token to ${origin}?\n\nThis page is set to read from ${origin}, which is not the page's own origin (${location.origin}). ` +
    `Agree only if you trust ${origin} with the token.`);
  if (!agreed) return "";
  sessionStorage.setItem(TRUSTED_KEY, JSON.stringify([...(Array.isArray(trusted) ? trusted : []), origin]));
  return token;
}

/** The source settings: the URL's query first (so a view can be linked), then the form. */
function readSettings() {
  const q = new URLSearchParams(location.search);
  const source = q.get("source") ?? (servedByGateway ? "deployment" : "indexeddb");
  return {
    source: ["http", "deployment"].includes(source) ? source : "indexeddb",
    gateway: q.get("gateway") ?? location.origin,
    dbName: q.get("db") ?? "dramatiq-results",
    storeName: q.get("store") ?? "results",
    endpoint: q.get("endpoint") ?? `${location.origin}/kv`,
    namespace: q.get("namespace") ?? "dramatiq-results",
    prefixKeys: q.get("prefixKeys") === "1",
  };
}

function makeBackend(s) {
  const options = { namespace: s.namespace, useNamespacePrefixKeys: s.prefixKeys };
  if (s.source === "http") {
    // The gateway's /kv wants the token when it has one (never sent elsewhere unasked).
    const url = new URL(s.endpoint, location.href).href;
    const token = tokenFor(url);
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    return new KvBackend(httpAdapter(url, { headers }), options);
  }
  return new IndexedDbBackend({ ...options, dbName: s.dbName, storeName: s.storeName });
}

function describe(s) {
  if (s.source === "deployment") return `Deployment · ${s.gateway === location.origin ? "this gateway" : s.gateway}`;
  return s.source === "http" ? `HTTP · ${s.endpoint}` : `IndexedDB · ${s.dbName}/${s.storeName}`;
}

let settings = readSettings();
let watchlist;
let demo = null;

function fillSourceForm(s) {
  const form = $("source-form");
  form.elements.source.value = s.source;
  $("db-name").value = s.dbName;
  $("store-name").value = s.storeName;
  $("endpoint").value = s.endpoint;
  $("gateway").value = s.gateway;
  $("token").value = sessionStorage.getItem(TOKEN_KEY) ?? "";
  $("namespace").value = s.namespace;
  $("prefix-keys").checked = s.prefixKeys;
  form.dataset.source = s.source;
}

function setStatus(text, kind = "ok") {
  const status = $("source-status");
  status.textContent = text;
  status.dataset.kind = kind;
}

/** (Re)connects to the source in `settings`, carrying the watched messages over. */
function connect() {
  const previous = watchlist;
  previous?.close();
  previous?.backend.close?.(); // an IndexedDB connection and its channel
  demo?.stop();
  demo = null;
  watchlist = new Watchlist(makeBackend(settings));
  watchlist.addEventListener("change", (e) => markDirty(e.detail));
  watchlist.addEventListener("status", (e) => {
    const { error } = e.detail;
    if (error) setStatus(`${describe(settings)} — ${error.cause?.message ?? error.message}`, "error");
    else setStatus(`${describe(settings)} — live`);
  });
  rows.clear();
  $("messages").tBodies[0].replaceChildren();
  points.length = 0;
  plotted.clear();
  setStatus(`${describe(settings)} — live`);
  if (previous?.entries.length) {
    const deadlineLeft = (e) => Math.max(1000, e.deadline - Date.now());
    for (const e of previous.entries) watchlist.add([{ ...e.message, messageTimestamp: e.sentAt }], { timeoutMs: deadlineLeft(e) });
  }
  markDirty([]);
}

$("source-form").addEventListener("change", (e) => {
  if (e.target.name === "source") $("source-form").dataset.source = e.target.value;
});
$("source-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const endpoint = $("endpoint").value.trim() || `${location.origin}/kv`;
  if (form.elements.source.value === "http" && !URL.canParse(endpoint, location.href)) {
    setStatus(`Not a URL: ${endpoint}`, "error");
    $("endpoint").setAttribute("aria-invalid", "true");
    $("endpoint").focus();
    return;
  }
  $("endpoint").removeAttribute("aria-invalid");
  const source = form.elements.source.value;
  const token = $("token").value.trim();
  if (source !== "indexeddb") {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  }
  if (source === "deployment" || settings.source === "deployment") {
    // The deployment view replaces the watch list's: switching either way reloads the page.
    const gateway = $("gateway").value.trim() || location.origin;
    if (source === "deployment" && !URL.canParse(gateway)) {
      setStatus(`Not a URL: ${gateway}`, "error");
      $("gateway").setAttribute("aria-invalid", "true");
      $("gateway").focus();
      return;
    }
    const q = new URLSearchParams({ source });
    if (source === "deployment" && gateway !== location.origin) q.set("gateway", gateway);
    if (source === "http") q.set("endpoint", endpoint);
    location.assign(`${location.pathname}?${q}`);
    return;
  }
  settings = {
    ...settings,
    source: form.elements.source.value,
    dbName: $("db-name").value.trim() || "dramatiq-results",
    storeName: $("store-name").value.trim() || "results",
    endpoint,
    namespace: $("namespace").value.trim() || "dramatiq-results",
    prefixKeys: $("prefix-keys").checked,
  };
  const q = new URLSearchParams({ source: settings.source });
  if (settings.source === "http") q.set("endpoint", settings.endpoint);
  else if (settings.dbName !== "dramatiq-results" || settings.storeName !== "results") {
    q.set("db", settings.dbName);
    q.set("store", settings.storeName);
  }
  if (settings.namespace !== "dramatiq-results") q.set("namespace", settings.namespace);
  if (settings.prefixKeys) q.set("prefixKeys", "1");
  history.replaceState(null, "", `?${q}`);
  connect();
});

// --- watching ---------------------------------------------------------------------------

const timeoutMs = () => Math.max(1, Number($("wait-timeout").value) || 60) * 1000;

function watchText(text, origin) {
  const { messages, problems } = parseMessages(text);
  const added = watchlist.add(messages, { timeoutMs: timeoutMs() });
  const parts = [`${origin}: watching ${added.length} new message${added.length === 1 ? "" : "s"}`];
  if (messages.length > added.length) parts.push(`${messages.length - added.length} already watched`);
  if (problems.length) parts.push(`skipped ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? ` and ${problems.length - 3} more` : ""}`);
  const feedback = $("watch-feedback");
  feedback.textContent = parts.join(" · ");
  feedback.dataset.kind = problems.length || !added.length ? "warn" : "ok";
  return added.length;
}

$("watch-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (watchText($("watch-input").value, "Pasted")) $("watch-input").value = "";
});
$("watch-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (file) watchText(await file.text(), file.name);
  e.target.value = "";
});

$("demo-run").addEventListener("click", async () => {
  demo ??= startDemo(watchlist.backend);
  const list = watchlist;
  for await (const { messages, timeoutMs: ms } of demo.send()) {
    if (list !== watchlist) break; // the source changed meanwhile
    list.add(messages, { timeoutMs: ms ?? timeoutMs() });
  }
});
$("demo-load").addEventListener("click", () => {
  demo ??= startDemo(watchlist.backend);
  watchlist.add(demo.sendMany(1000), { timeoutMs: Math.max(timeoutMs(), 120_000) });
});
$("retry-timed-out").addEventListener("click", () => watchlist.retryTimedOut({ timeoutMs: timeoutMs() }));
$("clear").addEventListener("click", () => {
  watchlist.clear();
  rows.clear();
  points.length = 0;
  plotted.clear();
  $("messages").tBodies[0].replaceChildren();
});
$("export").addEventListener("click", () => {
  const blob = new Blob([exportJson()], { type: "application/json" });
  const a = el("a");
  a.href = URL.createObjectURL(blob);
  a.download = "dramatiq-messages.json";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});
const exportJson = () => JSON.stringify(watchlist.toDicts(), null, 2);

// --- filters ----------------------------------------------------------------------------

const filter = { states: new Set(STATES), actor: "", search: "" };

for (const state of STATES) {
  const label = el("label", `chip ${stateClass(state)}`);
  const box = el("input");
  box.type = "checkbox";
  box.checked = true;
  box.value = state;
  label.append(box, el("span", "dot"), el("span", "chip-name", state), el("span", "chip-count", "0"));
  label.dataset.state = state;
  $("state-filter").append(label);
}
$("state-filter").addEventListener("change", (e) => {
  if (e.target.checked) filter.states.add(e.target.value);
  else filter.states.delete(e.target.value);
  applyFilter();
});
$("actor-filter").addEventListener("change", (e) => {
  filter.actor = e.target.value;
  applyFilter();
});
$("search").addEventListener("input", (e) => {
  filter.search = e.target.value.trim().toLowerCase();
  applyFilter();
});

const matches = (entry) =>
  filter.states.has(entry.state) &&
  (!filter.actor || entry.message.actorName === filter.actor) &&
  (!filter.search || rows.get(entry.id)?.textContent.toLowerCase().includes(filter.search));

function applyFilter() {
  for (const entry of watchlist.entries) {
    const row = rows.get(entry.id);
    if (row) row.hidden = !matches(entry);
  }
  updateEmpty();
}

// --- rendering --------------------------------------------------------------------------

/** entry id → its `<tr>`. */
const rows = new Map();
/** `{ at, latency, state }` of every result seen, in arrival order, for the latency plot. */
const points = [];
/** entry id → its point. */
const plotted = new Map();
const dirty = new Set();
let scheduled = false;
let chartsDrawnAt = 0;

function markDirty(entries) {
  for (const e of entries) dirty.add(e);
  if (scheduled) return;
  scheduled = true;
  // A hidden tab gets no animation frames; the timeout keeps it current anyway.
  const run = () => scheduled && flush();
  requestAnimationFrame(run);
  setTimeout(run, 200);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

/** The send time; the full date is in the tooltip, for messages from another day. */
function sent(at) {
  const td = el("td", "num", timeFormat.format(at));
  td.title = new Date(at).toString();
  return td;
}

function renderRow(entry, row) {
  const { message: m } = entry;
  row.dataset.state = entry.state;
  row.dataset.actor = m.actorName;
  row.dataset.messageId = m.messageId;
  const state = el("td");
  state.append(el("span", `badge ${stateClass(entry.state)}`, entry.state));
  const id = el("td", "mono id");
  id.append(el("span", "", m.messageId));
  id.title = `${m.messageId}\nkey ${entry.key}`;
  const took = el("td", "num", duration(entry.latency));
  const result = el("td", "result");
  if (entry.state === "waiting") result.append(el("span", "muted", `waiting up to ${duration(entry.deadline - entry.sentAt)}`));
  else if (entry.state === "timed out") result.append(el("span", "muted", "no result before the deadline"));
  else if (entry.error) {
    const exc = el("div", "exception");
    exc.append(el("strong", "exc-type", entry.error.type), el("span", "exc-msg", entry.error.message));
    result.append(exc);
  } else result.append(jsonView(entry.value, { label: `Result of ${m.actorName}` }));
  if (entry.state === "expired") result.append(el("span", "note", `expired ${duration(entry.expiredAt - entry.seenAt)} after it arrived`));
  row.replaceChildren(state, el("td", "actor", m.actorName), el("td", "queue", m.queueName), id,
    sent(entry.sentAt), took, result);
  row.hidden = !matches(entry);
}

function flush() {
  scheduled = false;
  const body = $("messages").tBodies[0];
  const fresh = document.createDocumentFragment();
  for (const entry of dirty) {
    let row = rows.get(entry.id);
    const isNew = !row;
    if (isNew) {
      row = el("tr");
      rows.set(entry.id, row);
    }
    renderRow(entry, row);
    const point = plotted.get(entry.id);
    if (point) point.state = entry.state;
    else if (entry.seenAt !== undefined) {
      const p = { at: entry.seenAt, latency: entry.latency, state: entry.state };
      plotted.set(entry.id, p);
      points.push(p);
    }
    if (isNew) fresh.prepend(row); // newest first
  }
  dirty.clear();
  body.prepend(fresh);
  updateCounts();
  updateEmpty();
  // The plots redraw at most four times a second, whatever the rate of results.
  const wait = 250 - (performance.now() - chartsDrawnAt);
  if (wait <= 0) drawCharts();
  else setTimeout(() => !scheduled && drawCharts(), wait);
}

function drawCharts() {
  chartsDrawnAt = performance.now();
  const counts = countStates();
  $("counts-chart").innerHTML = countsSvg(STATES, counts);
  $("latency-chart").innerHTML = latencySvg(points);
  $("latency-summary").textContent = latencySummary(points);
  drawStats();
}

/** The at-a-glance numbers under the state bars. */
function drawStats() {
  const entries = watchlist.entries;
  const seen = entries.filter((e) => e.seenAt !== undefined);
  $("stat-seen").textContent = `${seen.length} of ${entries.length}`;
  const failed = seen.filter((e) => e.error).length;
  $("stat-failures").textContent = seen.length ? `${Math.round((100 * failed) / seen.length)} % (${failed})` : "—";
  const byActor = new Map();
  for (const e of seen) {
    if (!byActor.has(e.message.actorName)) byActor.set(e.message.actorName, []);
    byActor.get(e.message.actorName).push(e.latency);
  }
  let slowest = null;
  for (const [actor, lats] of byActor) {
    const median = lats.sort((a, b) => a - b)[Math.floor(lats.length / 2)];
    if (!slowest || median > slowest.median) slowest = { actor, median };
  }
  $("stat-slowest").replaceChildren(...(slowest ? [el("span", "", slowest.actor), el("span", "muted", duration(slowest.median))] : ["—"]));
}

function countStates() {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const e of watchlist.entries) counts[e.state]++;
  return counts;
}

function updateCounts() {
  const counts = countStates();
  for (const chip of $("state-filter").querySelectorAll(".chip")) {
    chip.querySelector(".chip-count").textContent = counts[chip.dataset.state];
  }
  const total = watchlist.entries.length;
  $("summary").textContent = total
    ? `${total} watched · ${counts.waiting} waiting · ${counts.done} done · ${counts.failed} failed`
    : "Nothing watched";
  // The actor filter offers every actor seen, keeping the current choice.
  const actors = [...new Set(watchlist.entries.map((e) => e.message.actorName))].sort();
  const select = $("actor-filter");
  if (select.options.length - 1 !== actors.length) {
    select.replaceChildren(new Option("All actors", ""), ...actors.map((a) => new Option(a, a)));
    select.value = actors.includes(filter.actor) ? filter.actor : "";
    filter.actor = select.value;
  }
  $("retry-timed-out").disabled = !counts["timed out"];
  $("export").disabled = $("clear").disabled = !total;
}

function updateEmpty() {
  const total = watchlist.entries.length;
  const empty = $("empty");
  empty.hidden = total > 0 && [...rows.values()].some((r) => !r.hidden);
  empty.textContent = total ? "No message matches the filters." : "Nothing watched yet. Paste message ids, load a JSON file, or run the demo.";
}

// --- start ------------------------------------------------------------------------------

fillSourceForm(settings);
let deployment = null;
if (settings.source === "deployment") {
  document.body.dataset.source = "deployment";
  // One token for both (asked for once when the gateway is another origin).
  const token = tokenFor(settings.gateway);
  const operator = createOperatorView({ base: settings.gateway, token });
  deployment = startDeploymentView({
    base: settings.gateway,
    token,
    setStatus,
    describe: describe(settings),
    detailActions: operator.detailActions,
  });
  operator.start(deployment);
} else {
  connect();
}
/** A handle for scripts and the end-to-end test. */
window.dashboard = {
  get watchlist() {
    return watchlist;
  },
  get deployment() {
    return deployment;
  },
  exportJson,
};
window.loaded = true;
