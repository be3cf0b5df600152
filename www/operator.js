// The operator's side of the Deployment view: the caller's role (`GET /api/session`), the
// bulk actions on dead letters (a dry run's count first, then the real run, repeated while
// the gateway answers `complete: false`), the audit log (read once, then live from the
// `audit` events), the broker search (`GET /api/messages?q=`) and the message page
// (./message.js, at `#message=<id>`). The viewer sees no action button; the gateway checks
// the token on every action anyway. Every string from the deployment is set as text.
import { REFUSED_TOKEN } from "./deployment.js";
import { confirmFirst } from "./confirm.js";
import { createMessagePage } from "./message.js";

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};
const when = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
const at = (ms) => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? when.format(ms) : "");

/** One line saying what an audit entry did. */
function auditText(e) {
  const dry = e.dryRun ? " (dry run)" : "";
  if (e.messageId !== undefined) return `${e.action} ${e.messageId}: ${e.done ? "done" : "not done"}${dry}`;
  const f = e.filter ?? {};
  const what = Object.entries(f).map(([k, v]) => `${k}=${v}`).join(", ") || "every dead letter";
  return `${e.action} [${what}]: ${e.matched} matched, ${e.done} done${dry}`;
}

/**
 * @param {{ base: string, token: string }} o the gateway and the token the page holds
 * @returns {{ detailActions(record): Node[], start(view): void, role: string }}
 */
export function createOperatorView({ base, token }) {
  const $ = (id) => document.getElementById(id);
  // The operator's cards come from the page's templates: they exist in the Deployment view
  // only (the watch list's page has no such controls).
  for (const template of document.querySelectorAll("template[data-operator]")) template.replaceWith(template.content.cloneNode(true));
  const root = String(base).replace(/\/+$/, "");
  let role = "viewer";

  /** An API call: `{ status, body }` (body null when not JSON). */
  async function api(path, { method = "GET", body } = {}) {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      const res = await fetch(`${root}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
      let parsed = null;
      try {
        parsed = await res.json();
      } catch {
        // not JSON
      }
      // A refused token: the gateway's plain "unauthorized" says nothing of what to do.
      if (res.status === 401) parsed = { ...parsed, error: token ? REFUSED_TOKEN : "the gateway wants a token (Source → Token)" };
      return { status: res.status, body: parsed };
    } catch (error) {
      return { status: 0, body: { error: String(error.message ?? error) } };
    }
  }

  const messagePage = createMessagePage({ api, role: () => role });
  const openFromHash = () => {
    const m = /^#message=(.+)$/.exec(location.hash);
    if (m) {
      // A hand-typed hash may not decode ("#message=50%"): then it is the id as typed.
      let id = m[1];
      try {
        id = decodeURIComponent(id);
      } catch {}
      messagePage.open(id);
    }
    else messagePage.close();
  };
  const openMessage = (id) => {
    history.pushState(null, "", `#message=${encodeURIComponent(id)}`);
    messagePage.open(id);
  };

  // --- the audit log ---
  const auditList = () => $("audit");
  function addAudit(entry, { top = true } = {}) {
    const li = el("li");
    li.append(el("span", "what", auditText(entry)), el("span", "when", `${at(entry.at)} · ${entry.role}`));
    if (top) auditList().prepend(li);
    else auditList().append(li);
    while (auditList().childElementCount > 200) auditList().lastChild.remove();
    $("audit-empty").hidden = true;
  }
  async function loadAudit() {
    const { status, body } = await api("/api/audit?limit=100");
    if (status !== 200 || !Array.isArray(body)) return;
    auditList().replaceChildren();
    for (const e of body) addAudit(e, { top: false });
    $("audit-empty").hidden = body.length > 0;
  }

  // --- bulk actions: dry run, confirm, run ---
  let pending = null;
  function readFilter() {
    const filter = {};
    for (const [name, id] of [["queue", "bulk-queue"], ["actor", "bulk-actor"], ["exception", "bulk-exception"]]) {
      const v = $(id).value.trim();
      if (v) filter[name] = v;
    }
    return filter;
  }
  async function dryRun(kind) {
    const filter = readFilter();
    $("bulk-feedback").textContent = "Counting…";
    const { status, body } = await api(`/api/dead-letters/${kind}`, { method: "POST", body: { ...filter, dryRun: true } });
    if (status !== 200) {
      $("bulk-feedback").textContent = `Not counted: ${body?.error ?? `HTTP ${status}`}`;
      return;
    }
    $("bulk-feedback").textContent = "";
    pending = { kind, filter, matched: body.matched };
    $("bulk-count").textContent = body.matched === 0
      ? "No dead letter matches."
      : `${body.matched} dead letter${body.matched === 1 ? "" : "s"} match${body.matched === 1 ? "es" : ""}. ${kind === "requeue" ? "Requeue" : "Delete"} ${body.matched === 1 ? "it" : "them"}?`;
    $("bulk-confirm").hidden = false;
    $("bulk-go").disabled = body.matched === 0;
    $("bulk-go").textContent = kind === "requeue" ? `Requeue ${body.matched}` : `Delete ${body.matched}`;
    $("bulk-go").className = kind === "requeue" ? "primary" : "danger";
  }
  async function run() {
    if (!pending) return;
    const { kind, filter } = pending;
    pending = null;
    $("bulk-confirm").hidden = true;
    let matched = 0;
    let done = 0;
    for (;;) {
      $("bulk-feedback").textContent = `${kind === "requeue" ? "Requeuing" : "Deleting"}… ${done} done`;
      const { status, body } = await api(`/api/dead-letters/${kind}`, { method: "POST", body: filter });
      if (status !== 200) {
        $("bulk-feedback").textContent = `Stopped after ${done}: ${body?.error ?? `HTTP ${status}`}`;
        return;
      }
      matched += body.matched;
      done += body.done;
      if (body.complete) break;
    }
    $("bulk-feedback").textContent = `${kind === "requeue" ? "Requeued" : "Deleted"} ${done} of ${matched} matched.`;
  }

  // --- broker search ---
  async function search(q) {
    const list = $("broker-results");
    if (!q) {
      list.replaceChildren();
      $("broker-search-feedback").textContent = "";
      return;
    }
    $("broker-search-feedback").textContent = "Searching…";
    const { status, body } = await api(`/api/messages?q=${encodeURIComponent(q)}&limit=100`);
    if (status !== 200) {
      $("broker-search-feedback").textContent = `Not searched: ${body?.error ?? `HTTP ${status}`}`;
      return;
    }
    const items = body.items ?? [];
    $("broker-search-feedback").textContent = items.length ? `${items.length}${body.cursor ? "+" : ""} in the broker` : "Nothing in the broker matches.";
    list.replaceChildren(...items.map((item) => {
      const li = el("li");
      li.dataset.messageId = item.message.message_id;
      const link = el("button", "link", item.message.message_id);
      link.type = "button";
      link.addEventListener("click", () => openMessage(item.message.message_id));
      li.append(el("span", `badge s-${item.state}`, item.state), el("span", "", item.message.actor_name), el("span", "muted", item.queue), link);
      return li;
    }));
  }

  /** A malformed entry's one action: its delete, by queue and redis_message_id (no worker
   * can run it, so it can go whatever state it is in). */
  function malformedActions(r, box) {
    const rid = r.messageId.replace(/^malformed:/, "");
    const del = el("button", "danger", "Delete");
    del.type = "button";
    del.dataset.action = "delete";
    confirmFirst(del, () => "Delete this body? Click again", async () => {
      const { status, body } = await api(`/api/queues/${encodeURIComponent(r.queue)}/malformed/${encodeURIComponent(rid)}`, { method: "DELETE", body: {} });
      $("action-feedback").textContent = status === 200 ? `Deleted ${r.messageId}.` : `Not done (${r.messageId}): ${body?.error ?? `HTTP ${status}`}`;
    });
    box.append(del);
    return box;
  }

  /** The buttons of a record's detail panel: its message page and, for an operator, the actions. */
  function detailActions(r) {
    const box = el("div", "buttons");
    if (r.malformed) return role === "operator" && r.queue && r.state !== "done" ? [malformedActions(r, box)] : [];
    if (!r.message) return [];
    const full = el("button", "", "Message page");
    full.type = "button";
    full.addEventListener("click", () => openMessage(r.messageId));
    box.append(full);
    if (role === "operator") {
      const act = async (kind) => {
        const path = kind === "requeue" ? `/api/messages/${encodeURIComponent(r.messageId)}/requeue` : `/api/messages/${encodeURIComponent(r.messageId)}`;
        const { status, body } = await api(path, { method: kind === "requeue" ? "POST" : "DELETE", body: {} });
        // Beside the table, not in the panel: the panel follows the record, which moves on.
        $("action-feedback").textContent = status === 200
          ? `${kind === "requeue" ? "Requeued" : "Deleted"} ${r.messageId}.`
          : `Not done (${r.messageId}): ${body?.error ?? `HTTP ${status}`}`;
      };
      if (r.state === "dead-lettered") {
        const requeue = el("button", "primary", "Requeue");
        requeue.type = "button";
        requeue.dataset.action = "requeue";
        requeue.addEventListener("click", () => act("requeue"));
        box.append(requeue);
      }
      if (["dead-lettered", "queued", "delayed"].includes(r.state)) {
        const del = el("button", "danger", "Delete");
        del.type = "button";
        del.dataset.action = "delete";
        confirmFirst(del, () => "Delete it? Click again", () => act("delete"));
        box.append(del);
      }
    }
    return [box];
  }

  async function start(view) {
    const { status, body } = await api("/api/session");
    if (status === 200) {
      role = body.role === "operator" ? "operator" : "viewer";
      $("follow-mode").textContent = body.follow === "keyspace"
        ? "Live: Redis keyspace notifications (a message is read as it is enqueued)"
        : "Polling: Redis keyspace notifications are off, so a message sent and finished between two polls is known by its result only (its page, by id, still finds it)";
    }
    document.body.dataset.role = role;
    await loadAudit();
    view?.stream.addEventListener("audit", (e) => addAudit(e.detail));
    view?.stream.addEventListener("progress", (e) => {
      const p = e.detail;
      if (!p?.dryRun) $("bulk-feedback").textContent = `${p.action}: ${p.done} done of ${p.matched} matched so far…`;
    });
    $("bulk-form").addEventListener("submit", (e) => {
      e.preventDefault();
      dryRun(e.submitter?.value === "delete" ? "delete" : "requeue");
    });
    $("bulk-go").addEventListener("click", run);
    $("bulk-cancel").addEventListener("click", () => {
      pending = null;
      $("bulk-confirm").hidden = true;
      $("bulk-feedback").textContent = "Cancelled: nothing changed.";
    });
    $("broker-search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      search($("broker-search").value.trim());
    });
    window.addEventListener("popstate", openFromHash);
    window.addEventListener("hashchange", openFromHash);
    openFromHash();
  }

  return {
    detailActions,
    start,
    get role() {
      return role;
    },
    openMessage,
  };
}
