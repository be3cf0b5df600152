// The "Deployment" source: a live view of a Dramatiq deployment through the results gateway
// (`npx dramatiq-results serve`). One event stream (`/api/events`) brings everything: the
// messages as they flow (queued → in progress → done / failed / dead-lettered, with their
// results), the queue counts and the workers alive; the page polls nothing itself.
//
// The stream is read with fetch (not EventSource) so it can carry the bearer token; on any
// failure it reconnects with back-off and `Last-Event-ID`, so it misses nothing the gateway
// still knows. The table is virtualised: whatever the number of messages, only the rows in
// view exist in the DOM, and all work for a burst of events is done once per frame.
//
// The states and event names are the gateway's own (`dramatiq-results/gateway/protocol`:
// the page's import map points at the package's file, which the gateway serves beside it).
import { JSONEncoder } from "dramatiq-results";
import { EVENT, FINISHED_STATES, MESSAGE_STATES as FLOW_STATES } from "dramatiq-results/gateway/protocol";
import { jsonView } from "./json-view.js";
import { duration } from "./charts.js";

const ROW_HEIGHT = 34;
/** The most messages the page keeps; beyond it the oldest finished ones are forgotten. */
const MAX_RECORDS = 50_000;
const OVERSCAN = 8;
/** Longest slice of work (parsing events) before yielding to the page (ms). */
const SLICE_MS = 8;
/** What the page says when the gateway refuses the token it holds (401): it was right when
 * typed, so the gateway's has changed (rotated, or the gateway restarted with another). */
export const REFUSED_TOKEN = "the gateway refused this tab's token (it may have changed): enter the current one (Source → Token)";

/** No byte for this long (the gateway pings every 15 s): the stream is dead, reconnect. */
const IDLE_MS = 40_000;

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * The gateway's event stream and the state it builds: `records` (messageId → record, in
 * order of first sight), `queues`, `workers`. Emits `change` ({ reset }), `overview` and
 * `status` ({ ok, error }).
 */
export class GatewayStream extends EventTarget {
  records = new Map();
  /** messageIds in the order first seen (the table shows it reversed: newest first). */
  order = [];
  /** How many records are in each state, kept as events arrive. */
  counts = Object.fromEntries(FLOW_STATES.map((s) => [s, 0]));
  queues = [];
  workers = [];
  lastId = null;
  status = { ok: false, error: "connecting" };
  stats = { events: 0, connects: 0 };
  #controller = new AbortController();

  constructor(base, token) {
    super();
    this.base = String(base).replace(/\/+$/, "");
    this.token = token;
    this.#run();
  }

  close() {
    this.#controller.abort();
  }

  #setStatus(ok, error = null) {
    if (this.status.ok === ok && this.status.error === error) return;
    this.status = { ok, error };
    this.dispatchEvent(new CustomEvent("status", { detail: this.status }));
  }

  /** The gateway said it ends this stream (`reconnect`): not a failure. */
  #planned = false;

  async #run() {
    const signal = this.#controller.signal;
    let backoff = 500;
    while (!signal.aborted) {
      const attempt = new AbortController();
      const stop = () => attempt.abort();
      signal.addEventListener("abort", stop, { once: true });
      let idle;
      const resetIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(stop, IDLE_MS);
      };
      try {
        const headers = { accept: "text/event-stream" };
        if (this.token) headers.authorization = `Bearer ${this.token}`;
        if (this.lastId !== null) headers["last-event-id"] = String(this.lastId);
        resetIdle();
        const res = await fetch(`${this.base}/api/events`, { headers, signal: attempt.signal, cache: "no-store" });
        if (res.status === 401) throw new Error(this.token ? REFUSED_TOKEN : "the gateway wants a token (Source → Token)");
        if (!res.ok) throw new Error(`the gateway answered HTTP ${res.status}`);
        this.stats.connects++;
        backoff = 500;
        this.#planned = false;
        await this.#read(res.body, resetIdle);
        if (this.#planned && !signal.aborted) continue;
        if (!signal.aborted) throw new Error("the gateway closed the stream");
      } catch (error) {
        if (signal.aborted) break;
        const message = attempt.signal.aborted ? "no answer from the gateway" : error.message === "Failed to fetch" ? "the gateway is unreachable" : error.message;
        this.#setStatus(false, message);
      } finally {
        clearTimeout(idle);
        signal.removeEventListener("abort", stop);
      }
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, 5000);
    }
  }

  /** Reads SSE blocks from `body`, applying them in slices of at most SLICE_MS. */
  async #read(body, onData) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let changed = false;
    let reset = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      onData();
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      let sliceStart = performance.now();
      for (;;) {
        const end = buffer.indexOf("\n\n", start);
        if (end < 0) break;
        const block = buffer.slice(start, end);
        start = end + 2;
        const kind = this.#apply(block);
        if (kind === "reset") reset = true;
        if (kind) changed = true;
        if (performance.now() - sliceStart > SLICE_MS) {
          if (changed) this.#changed(reset);
          changed = reset = false;
          await nextTask();
          sliceStart = performance.now();
        }
      }
      buffer = buffer.slice(start);
      if (changed) this.#changed(reset);
      changed = reset = false;
    }
  }

  /** Forgets the oldest tenth of the finished messages (a page open for days stays small). */
  #forget() {
    const finished = new Set(FINISHED_STATES);
    let budget = Math.floor(MAX_RECORDS / 10);
    this.order = this.order.filter((id) => {
      const r = this.records.get(id);
      if (budget <= 0 || !finished.has(r.state)) return true;
      budget--;
      this.records.delete(id);
      this.counts[r.state]--;
      return false;
    });
  }

  #changed(reset) {
    this.dispatchEvent(new CustomEvent("change", { detail: { reset } }));
  }

  /** Applies one SSE block; answers "reset", "record", or null for anything else. */
  #apply(block) {
    let event = "message";
    let data = "";
    let id = null;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + (line[colon + 1] === " " ? 2 : 1));
      if (field === "event") event = value;
      else if (field === "data") data += data ? `\n${value}` : value;
      else if (field === "id") id = Number(value);
    }
    if (id !== null && Number.isFinite(id)) this.lastId = id;
    if (!data) return null;
    this.stats.events++;
    const payload = JSON.parse(data);
    switch (event) {
      case EVENT.status:
        this.#setStatus(payload.ok !== false, payload.ok === false ? `Redis: ${payload.error}` : null);
        return null;
      case EVENT.reconnect:
        // The gateway ends long streams on purpose (a Worker's Durable Object): come back at once.
        this.#planned = true;
        return null;
      case EVENT.queues:
      case EVENT.workers:
        this[event] = payload;
        this.dispatchEvent(new CustomEvent("overview"));
        return null;
      case EVENT.audit:
      case EVENT.progress:
        // An operator's action (./operator.js shows them), not a message's record.
        this.dispatchEvent(new CustomEvent(event, { detail: payload }));
        return null;
      case EVENT.reset:
        this.records.clear();
        this.order = [];
        for (const state of FLOW_STATES) this.counts[state] = 0;
        return "reset";
      case EVENT.ready:
        return "record";
      case EVENT.removed: {
        // Gone from the deployment (a dead letter dropped, or a result found before its
        // message, which a record of the message replaces).
        const previous = payload?.messageId ? this.records.get(payload.messageId) : undefined;
        if (!previous) return null;
        this.records.delete(payload.messageId);
        this.order = this.order.filter((id) => id !== payload.messageId);
        this.counts[previous.state]--;
        return "record";
      }
      default: {
        // Every other event carries the message's whole record: keep the latest.
        if (!payload?.messageId) return null;
        const previous = this.records.get(payload.messageId);
        payload.event = event;
        payload.seenAt = previous?.seenAt ?? Date.now();
        this.records.set(payload.messageId, payload);
        if (previous) this.counts[previous.state]--;
        else {
          this.order.push(payload.messageId);
          if (this.order.length > MAX_RECORDS) this.#forget();
        }
        this.counts[payload.state] = (this.counts[payload.state] ?? 0) + 1;
        this.onRecord?.(payload, event); // a hook for scripts and the tests
        return "record";
      }
    }
  }
}

/** What Find holds when it is a message id (a Dramatiq id is a UUID). */
const ID_LIKE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
/** A time of day for a number of ms since the epoch; any other number (a producer may write
 * `"eta": 1e20`, beyond any date) as the number itself: a hostile value is text, never a throw. */
const clock = (ms) => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? timeFormat.format(ms) : String(ms));
const stateClass = (state) => `s-${state.replace(/\s+/g, "-")}`;

/** What the result column says of a record: `{ text, kind }`. */
function resultText(r) {
  const res = r.result;
  if (res?.exception) return { text: `${res.exception.type}: ${res.exception.message}`, kind: "exception" };
  if (res?.error) return { text: `${res.error.type}: ${res.error.message}`, kind: "exception" };
  if (res && "json" in res) return { text: String(res.json), kind: "value" };
  if (res && "omitted" in res) return { text: `a value of ${res.omitted} bytes (read it at /kv/${r.key ?? "…"})`, kind: "muted" };
  if (r.malformed) return { text: `malformed message (${r.malformed}, ${r.bytes} bytes)`, kind: "exception" };
  switch (r.state) {
    case "queued":
      return { text: "waiting for a worker", kind: "muted" };
    case "delayed": {
      const eta = r.message?.options?.eta;
      return { text: typeof eta === "number" ? `until ${clock(eta)}` : "delayed", kind: "muted" };
    }
    case "in-progress":
      return { text: "a worker has it", kind: "muted" };
    case "dead-lettered":
      return { text: "dead-lettered", kind: "muted" };
    default:
      return { text: "no result stored", kind: "muted" };
  }
}

/**
 * Starts the Deployment view on the page's `deployment-only` elements: queues, workers and
 * the virtualised message table. Answers `{ stream, frameStats, close() }`. `detailActions(record)`
 * adds nodes (links, buttons) to a record's detail panel.
 */
export function startDeploymentView({ base, token, setStatus, describe, detailActions }) {
  const $ = (id) => document.getElementById(id);
  const stream = new GatewayStream(base, token);
  const encoder = new JSONEncoder();
  const filter = { states: new Set(FLOW_STATES), search: "", typed: "" };
  let dirty = true;
  let selected = null;

  // State chips with counts.
  const chips = new Map();
  for (const state of FLOW_STATES) {
    const label = el("label", `chip ${stateClass(state)}`);
    const box = el("input");
    box.type = "checkbox";
    box.checked = true;
    box.value = state;
    const count = el("span", "chip-count", "0");
    label.append(box, el("span", "dot"), el("span", "chip-name", state), count);
    label.dataset.state = state;
    chips.set(state, count);
    $("flow-filter").append(label);
  }
  $("flow-filter").addEventListener("change", (e) => {
    if (e.target.checked) filter.states.add(e.target.value);
    else filter.states.delete(e.target.value);
    viewBuiltAt = 0;
    schedule(true);
  });
  $("flow-search").addEventListener("input", (e) => {
    filter.typed = e.target.value.trim();
    filter.search = filter.typed.toLowerCase();
    viewBuiltAt = 0;
    schedule(true);
  });

  // The virtual table: a spacer as tall as every row, and a pool of row elements placed
  // over the part in view.
  const body = $("flow-body");
  const spacer = $("flow-spacer");
  const rowsBox = $("flow-rows");
  const pool = [];
  body.addEventListener("scroll", () => schedule(false), { passive: true });
  new ResizeObserver(() => schedule(false)).observe(body);

  // No row: say why, and when what is typed in Find is a message id, offer its page (the
  // gateway finds a message no row shows: one sent and done between two polls, by its result).
  const emptyBox = $("flow-empty");
  function showEmpty(total) {
    const id = total && ID_LIKE.test(filter.typed) ? filter.typed : null;
    const said = total ? "No message matches the filters." : "No message seen yet: they appear here as they are sent.";
    if (emptyBox.dataset.said === said && (emptyBox.dataset.lookup ?? "") === (id ?? "")) return;
    emptyBox.dataset.said = said;
    emptyBox.dataset.lookup = id ?? "";
    emptyBox.replaceChildren(said);
    if (id) {
      const link = el("a", "lookup", `Look up ${id} in the deployment`);
      link.href = `#message=${encodeURIComponent(id)}`;
      emptyBox.append(" ", link);
    }
  }

  const haystacks = new WeakMap();
  const haystack = (r) => {
    let h = haystacks.get(r);
    if (h === undefined) {
      h = `${r.messageId} ${r.actor} ${r.queue} ${resultText(r).text}`.toLowerCase();
      haystacks.set(r, h);
    }
    return h;
  };

  function makeRow() {
    const row = el("div", "vrow");
    row.setAttribute("role", "row");
    row.tabIndex = -1;
    const cells = ["state", "actor", "queue", "id mono", "num sent", "num took", "result"].map((cls) => {
      const cell = el("div", `vcell ${cls}`);
      cell.setAttribute("role", "cell");
      row.append(cell);
      return cell;
    });
    const badge = el("span", "badge");
    cells[0].append(badge);
    row.cells_ = cells;
    row.badge_ = badge;
    row.addEventListener("click", () => select(row.dataset.messageId));
    row.addEventListener("keydown", (e) => e.key === "Enter" && select(row.dataset.messageId));
    rowsBox.append(row);
    return row;
  }

  function fill(row, r, index) {
    if (row.record_ === r && row.index_ === index) return;
    row.record_ = r;
    row.index_ = index;
    row.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
    row.dataset.state = r.state;
    row.dataset.messageId = r.messageId;
    row.dataset.actor = r.actor;
    row.setAttribute("aria-rowindex", String(index + 2));
    row.classList.toggle("selected", r.messageId === selected);
    const [, actor, queue, id, sent, took, result] = row.cells_;
    row.badge_.className = `badge ${stateClass(r.state)}`;
    row.badge_.textContent = r.expired ? `${r.state} · expired` : r.state;
    // A result found without its message (an MD5 key names neither actor nor queue).
    actor.textContent = r.actor ?? "—";
    queue.textContent = r.queue ?? "—";
    id.textContent = r.messageId;
    const stamp = r.message?.message_timestamp;
    sent.textContent = typeof stamp === "number" ? clock(stamp) : "";
    took.textContent = r.finishedAt && Number.isFinite(stamp) ? duration(Math.max(0, r.finishedAt - stamp)) : "";
    const { text, kind } = resultText(r);
    result.textContent = text.length > 300 ? `${text.slice(0, 300)}…` : text;
    result.className = `vcell result ${kind}`;
    result.title = text.length > 300 ? `${text.slice(0, 2000)}…` : text;
  }

  let scheduled = false;
  function schedule(changed) {
    if (changed) dirty = true;
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(frame);
  }

  /** The filtered view (newest first), or null when nothing is filtered out: then the
   * table reads `stream.order` backwards, and a burst of events costs nothing here. */
  let view = null;
  let viewBuiltAt = 0;
  let rebuildTimer = null;
  let shownLength = 0;
  const text = (node, value) => node.textContent !== value && (node.textContent = value);

  function frame() {
    scheduled = false;
    // Read the layout first, write after: no forced layout in between.
    let scrollTop = body.scrollTop;
    const height = body.clientHeight;
    const { records, order, counts } = stream;
    if (dirty) {
      dirty = false;
      const filtered = filter.search !== "" || filter.states.size !== FLOW_STATES.length;
      if (!filtered) view = null;
      else if (performance.now() - viewBuiltAt < 250 && view) {
        // Rebuilding a filtered view walks every record: at most four times a second.
        if (!rebuildTimer) rebuildTimer = setTimeout(() => ((rebuildTimer = null), schedule(true)), 250);
      } else {
        viewBuiltAt = performance.now();
        const next = [];
        for (let i = order.length - 1; i >= 0; i--) {
          const r = records.get(order[i]);
          if (filter.states.has(r.state) && (!filter.search || haystack(r).includes(filter.search))) next.push(r);
        }
        view = next;
      }
      for (const [state, node] of chips) text(node, String(counts[state] ?? 0));
      const total = records.size;
      const summary = total
        ? `${total} messages · ${counts.queued + counts.delayed} waiting · ${counts["in-progress"]} in progress · ${counts.done} done · ${counts.failed + counts["dead-lettered"]} failed`
        : "No message seen yet";
      text($("flow-summary"), summary);
      text($("summary"), summary);
      const length = view ? view.length : order.length;
      // Newest first: rows arriving on top push the rest down; keep the rows in view still
      // once the reader has scrolled away from the top.
      if (!view && scrollTop > 0 && length > shownLength) {
        scrollTop += (length - shownLength) * ROW_HEIGHT;
        body.scrollTop = scrollTop;
      }
      if (length !== shownLength) {
        shownLength = length;
        spacer.style.height = `${length * ROW_HEIGHT}px`;
        $("flow").setAttribute("aria-rowcount", String(length + 1));
        $("flow-empty").hidden = length > 0;
      }
      if (length === 0) showEmpty(total);
      if (selected) showDetail(records.get(selected), false);
    }
    const length = view ? view.length : order.length;
    const at = view ? (i) => view[i] : (i) => records.get(order[order.length - 1 - i]);
    const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const needed = Math.max(0, last - first);
    while (pool.length < needed) pool.push(makeRow());
    for (let i = 0; i < pool.length; i++) {
      const row = pool[i];
      if (i < needed) {
        if (row.hidden) row.hidden = false;
        fill(row, at(first + i), first + i);
      } else if (!row.hidden) {
        row.hidden = true;
        row.record_ = null;
      }
    }
  }

  /** The detail panel: the message dict and its result as JSON views. */
  let detailShown = null;
  function showDetail(r, scroll) {
    const panel = $("flow-detail");
    if (!r) {
      panel.hidden = true;
      return;
    }
    if (detailShown === r) return;
    detailShown = r;
    panel.hidden = false;
    $("flow-detail-title").textContent = r.malformed ? `malformed message · ${r.messageId}` : r.actor === null ? `result ${r.key}` : `${r.actor} · ${r.messageId}`;
    const parts = [el("p", "hint", r.malformed
      ? `${r.state} · queue ${r.queue} · ${r.bytes} bytes the gateway cannot read as a Dramatiq message (${r.malformed})`
      : r.unseen && r.actor === null
      ? `${r.state}${r.expired ? " (result expired)" : ""} · a result whose message was sent and done between two polls; its key (an MD5 hash) names no message`
      : `${r.state}${r.expired ? " (result expired)" : ""} · queue ${r.queue} · key ${r.key ?? "—"}`)];
    if (r.result?.exception || r.result?.error) {
      const exc = el("div", "exception");
      const e = r.result.exception ?? r.result.error;
      exc.append(el("strong", "exc-type", e.type), el("span", "exc-msg", e.message));
      parts.push(exc);
    } else if (r.result && "json" in r.result) {
      let value;
      try {
        value = encoder.decode(new TextEncoder().encode(r.result.json));
      } catch {
        value = r.result.json;
      }
      parts.push(jsonView(value, { label: `Result of ${r.actor}` }));
    }
    if (r.truncated) parts.push(el("p", "hint", `The message is ${r.truncated} bytes long: shown without its arguments.`));
    if (!r.malformed) parts.push(jsonView(r.message, { label: "Message" }));
    // The message page and, for an operator, the actions (./operator.js).
    if (detailActions) parts.push(...detailActions(r));
    $("flow-detail-body").replaceChildren(...parts);
    if (scroll) panel.scrollIntoView({ block: "nearest" });
  }

  function select(messageId) {
    selected = messageId;
    detailShown = null;
    for (const row of pool) row.classList.toggle("selected", row.dataset.messageId === messageId);
    showDetail(stream.records.get(messageId), true);
  }
  $("flow-detail-close").addEventListener("click", () => {
    selected = null;
    $("flow-detail").hidden = true;
  });

  // Queues and workers.
  function drawOverview() {
    const tbody = $("queues").tBodies[0];
    tbody.replaceChildren(...stream.queues.map((q) => {
      const tr = el("tr");
      tr.dataset.queue = q.name;
      tr.append(el("th", "", q.name), ...[q.queued, q.delayed, q.inProgress, q.deadLettered].map((n) => el("td", "num", n == null ? "–" : String(n))));
      tr.firstChild.scope = "row";
      tr.firstChild.title = q.name;
      return tr;
    }));
    $("queues-empty").hidden = stream.queues.length > 0;
    const now = Date.now();
    $("workers").replaceChildren(...stream.workers.map((w) => {
      const li = el("li", "worker");
      li.dataset.worker = w.id;
      const id = el("span", "mono", w.id);
      id.title = w.id;
      li.append(id, el("span", "muted", `${duration(Math.max(0, now - w.lastSeen))} ago`));
      return li;
    }));
    $("workers-empty").hidden = stream.workers.length > 0;
    $("workers-count").textContent = String(stream.workers.length);
  }

  stream.addEventListener("change", () => schedule(true));
  stream.addEventListener("overview", drawOverview);
  stream.addEventListener("status", (e) => {
    const { ok, error } = e.detail;
    document.body.dataset.live = ok ? "yes" : "no";
    setStatus(ok ? `${describe} — live` : `${describe} — down: ${error}`, ok ? "ok" : "error");
  });
  setStatus(`${describe} — connecting…`, "ok");
  schedule(true);

  /**
   * Frame times, for the end-to-end test: every gap between animation frames (`max`,
   * `over50`: the page as the user sees it, the machine's load included) and, where the
   * browser reports them, long animation frames (`longest`: this page's own work per frame).
   */
  const frameStats = { max: 0, count: 0, over50: 0, longest: 0, long: [], gaps: [], running: false };
  if (typeof PerformanceObserver === "function" && PerformanceObserver.supportedEntryTypes?.includes("long-animation-frame")) {
    new PerformanceObserver((list) => {
      if (!frameStats.running) return;
      for (const e of list.getEntries()) {
        frameStats.longest = Math.max(frameStats.longest, e.duration);
        if (frameStats.long.length < 20) {
          frameStats.long.push({ duration: Math.round(e.duration), blocking: Math.round(e.blockingDuration ?? 0),
            scripts: (e.scripts ?? []).map((x) => `${x.invoker ?? ""} ${x.sourceFunctionName ?? ""} ${Math.round(x.duration)}ms`) });
        }
      }
    }).observe({ type: "long-animation-frame" });
  }
  frameStats.start = () => {
    Object.assign(frameStats, { max: 0, count: 0, over50: 0, longest: 0, long: [], gaps: [], running: true });
    let last = performance.now();
    const tick = (now) => {
      const gap = now - last;
      last = now;
      frameStats.max = Math.max(frameStats.max, gap);
      frameStats.count++;
      frameStats.gaps.push(gap);
      if (gap > 50) frameStats.over50++;
      if (frameStats.running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };
  frameStats.stop = () => (frameStats.running = false);

  return { stream, frameStats, select, close: () => stream.close() };
}
