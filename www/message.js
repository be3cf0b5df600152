// The message page: one message's whole story from the gateway (`GET /api/messages/<id>`):
// where it is now, its queue and actor, its arguments and options, the traceback as the
// lines Python wrote, its result as the JSON view, and the states the gateway saw it in.
// For an operator, Requeue (a dead letter) and Delete (a dead-lettered, queued or delayed
// one). Every string from the deployment is set as text, never as markup.
import { JSONEncoder } from "dramatiq-results";
import { confirmFirst } from "./confirm.js";
import { jsonView } from "./json-view.js";

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};
const encoder = new JSONEncoder();
/** A JSON view opened (the message page shows the whole story, not previews). */
const opened = (value, label) => {
  const view = jsonView(value, { label });
  if (view.tagName === "DETAILS") view.open = true;
  return view;
};
const time = (ms) => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toLocaleString() : String(ms));

/** A result's `{ json }` text as a value (Dramatiq's JSON: NaN, big integers). */
function resultValue(text) {
  try {
    return encoder.decode(new TextEncoder().encode(text));
  } catch {
    return text;
  }
}

/** A stored outcome as the page shows it: the exception's type and message, or the value
 * as the JSON view; null when there is none. */
function resultNode(result) {
  if (result?.exception || result?.error) {
    const e = result.exception ?? result.error;
    const exc = el("div", "exception");
    exc.append(el("strong", "exc-type", e.type), el("span", "exc-msg", e.message));
    return exc;
  }
  return result && "json" in result ? opened(resultValue(result.json), "Result") : null;
}

/**
 * The message page over `api` (`(path, init) => Promise<{ status, body }>`). `role()` says
 * whether the caller may act; `onAction(text)` reports what an action did.
 */
export function createMessagePage({ api, role }) {
  const $ = (id) => document.getElementById(id);
  const page = $("message-page");
  let shown = null;

  async function act(kind) {
    if (!shown) return;
    const id = shown;
    const path = kind === "requeue" ? `/api/messages/${encodeURIComponent(id)}/requeue` : `/api/messages/${encodeURIComponent(id)}`;
    const { status, body } = await api(path, { method: kind === "requeue" ? "POST" : "DELETE", body: {} });
    $("message-feedback").textContent = status === 200 ? (kind === "requeue" ? "Requeued: a worker will run it again." : "Deleted.") : `Not done: ${body?.error ?? `HTTP ${status}`}`;
    $("message-feedback").dataset.kind = status === 200 ? "" : "warn";
    await open(id, { keepFeedback: true });
  }
  $("message-requeue").addEventListener("click", () => act("requeue"));
  confirmFirst($("message-delete"), () => "Delete this message? Click again", () => act("delete"));
  $("message-close").addEventListener("click", () => {
    if (location.hash.startsWith("#message=")) history.pushState(null, "", location.pathname + location.search);
    close();
  });

  function close() {
    shown = null;
    page.hidden = true;
  }

  /** For an id the gateway knows nothing of: why, and a form reading its result by its
   * queue and actor (`GET /api/results/<queue>/<actor>/<id>`), which is all a result key
   * needs. A message sent and done between two polls is found so. */
  function byQueueAndActor(id) {
    const why = el("p", "hint", "A message sent and finished between two polls is found by its result once the gateway has seen a message of the same actor. Its queue and actor find it now:");
    const form = el("form", "by-result");
    form.id = "message-by-result";
    const field = (name, label) => {
      const input = el("input");
      Object.assign(input, { id: `message-by-result-${name}`, name, required: true, spellcheck: false, autocomplete: "off" });
      const tag = el("label", "", label);
      tag.htmlFor = input.id;
      form.append(tag, input);
      return input;
    };
    const queue = field("queue", "Queue");
    queue.value = "default";
    const actor = field("actor", "Actor");
    const go = el("button", "", "Read its result");
    go.type = "submit";
    const out = el("div", "by-result-out");
    out.setAttribute("role", "status");
    form.append(go);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const path = `/api/results/${encodeURIComponent(queue.value.trim())}/${encodeURIComponent(actor.value.trim())}/${encodeURIComponent(id)}?timeout=0`;
      const { status, body } = await api(path);
      if (shown !== id) return;
      const shownResult = status === 200 ? resultNode(body?.result) : null;
      if (shownResult) {
        out.replaceChildren(el("p", "", body.state === "failed" ? "Failed:" : "Done. Its result:"), shownResult);
      } else if (status === 202) {
        out.replaceChildren(el("p", "empty", "No result stored for it under that queue and actor."));
      } else {
        out.replaceChildren(el("p", "empty", `The gateway answered HTTP ${status}${body?.error ? `: ${body.error}` : ""}.`));
      }
    });
    return [why, form, out];
  }

  async function open(id, { keepFeedback = false } = {}) {
    shown = id;
    page.hidden = false;
    if (!keepFeedback) $("message-feedback").textContent = "";
    $("message-page-h").textContent = `Message ${id}`;
    const box = $("message-body");
    delete box.dataset.messageId;
    const { status, body } = await api(`/api/messages/${encodeURIComponent(id)}`);
    if (shown !== id) return;
    if (status !== 200) {
      // A 404 of a lookup that stopped early (`complete: false`) and any other answer say why.
      const known = status === 404 && body?.complete !== false;
      box.replaceChildren(el("p", "empty", known ? "The gateway knows no message with this id." : `The gateway answered HTTP ${status}${body?.error ? `: ${body.error}` : ""}.`));
      if (status === 404) box.append(...byQueueAndActor(id));
      $("message-requeue").hidden = $("message-delete").hidden = true;
      return;
    }
    const m = body.message ?? {};
    const options = { ...(body.options ?? {}) };
    const traceback = typeof options.traceback === "string" ? options.traceback : null;
    delete options.traceback;
    const facts = el("dl", "facts");
    const fact = (name, value) => facts.append(el("dt", "", name), el("dd", "", value ?? "—"));
    const badge = el("span", `badge s-${String(body.state).replace(/\s+/g, "-")}`, body.state);
    facts.append(el("dt", "", "State"), Object.assign(el("dd"), { className: "" }));
    facts.lastChild.append(badge);
    fact("Actor", body.actor);
    fact("Queue", body.queue);
    fact("Message id", body.messageId);
    fact("Sent", Number.isFinite(m.message_timestamp) ? time(m.message_timestamp) : null);
    fact("Retries", options.retries === undefined ? "0" : String(options.retries));
    fact("Result key", body.key);
    const parts = [facts];
    if (body.message) {
      parts.push(el("h3", "", "Arguments"), opened(m.args ?? [], "Arguments"));
      if (m.kwargs && Object.keys(m.kwargs).length) parts.push(el("h3", "", "Keyword arguments"), opened(m.kwargs, "Keyword arguments"));
      parts.push(el("h3", "", "Options"), opened(options, "Options"));
    } else {
      const why = body.knownBy === "result"
        ? "Found by its result: the gateway never saw the message itself (sent and done between two polls), so its arguments and options are not known."
        : "The gateway holds no copy of the message: its arguments and options are not known.";
      parts.push(el("h3", "", "Arguments"), el("p", "hint", why));
    }
    if (traceback !== null) parts.push(el("h3", "", "Traceback"), el("pre", "traceback", traceback));
    parts.push(el("h3", "", "Result"));
    parts.push(resultNode(body.result) ?? el("p", "hint", "No result stored (yet)."));
    parts.push(el("h3", "", "History"));
    const hist = el("ol", "history");
    for (const h of body.history ?? []) {
      const li = el("li", "", `${time(h.at)} · ${h.state} (${h.event})`);
      if (h.by) li.append(" ", el("span", "by", `by the ${h.by}`));
      hist.append(li);
    }
    if (!hist.childElementCount) hist.append(el("li", "hint", "The gateway saw no move of it."));
    parts.push(hist);
    box.replaceChildren(...parts);
    box.dataset.messageId = id; // which message the body shows (scripts and tests wait on it)
    const operator = role() === "operator";
    $("message-requeue").hidden = !(operator && body.state === "dead-lettered");
    $("message-delete").hidden = !(operator && ["dead-lettered", "queued", "delayed"].includes(body.state));
    page.scrollIntoView({ block: "start" });
  }

  return { open, close, get shown() { return shown; } };
}
