// A collapsible view of a result value. The tree is built only when first opened, so a
// table of a thousand results holds a thousand one-line previews, not a thousand trees.
// Values are what the package returns: JSON plus BigInt and the special floats.

/** `value` as one line of Python-flavoured JSON text, cut at `max` characters. */
export function preview(value, max = 90) {
  let out = "";
  const write = (v) => {
    if (out.length > max) return;
    if (typeof v === "bigint") out += String(v);
    else if (typeof v === "number") out += Number.isFinite(v) ? (Object.is(v, -0) ? "-0.0" : String(v)) : String(v);
    else if (typeof v === "string") out += JSON.stringify(v);
    else if (v === null || v === undefined) out += "null";
    else if (Array.isArray(v)) {
      out += "[";
      v.forEach((x, i) => (i && (out += ", "), write(x)));
      out += "]";
    } else if (typeof v === "object") {
      out += "{";
      Object.entries(v).forEach(([k, x], i) => (i && (out += ", "), (out += `${JSON.stringify(k)}: `), write(x)));
      out += "}";
    } else out += String(v);
  };
  write(value);
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};

/** A leaf: a scalar, coloured by type. */
function scalar(v) {
  if (typeof v === "string") return el("span", "j-str", JSON.stringify(v));
  if (typeof v === "number" || typeof v === "bigint") return el("span", "j-num", preview(v));
  if (typeof v === "boolean") return el("span", "j-bool", String(v));
  return el("span", "j-null", "null");
}

/** The tree of `v`; containers are nested `<details>`, open down to `depth` levels. */
function tree(v, label, depth) {
  const isArray = Array.isArray(v);
  if (v === null || typeof v !== "object") {
    const row = el("div", "j-row");
    if (label !== undefined) row.append(el("span", "j-key", `${label}: `));
    row.append(scalar(v));
    return row;
  }
  const entries = isArray ? v.map((x, i) => [i, x]) : Object.entries(v);
  const details = el("details", "j-node");
  details.open = depth > 0;
  const summary = el("summary");
  if (label !== undefined) summary.append(el("span", "j-key", `${label}: `));
  summary.append(el("span", "j-meta", isArray ? `[ ${entries.length} ]` : `{ ${entries.length} }`));
  details.append(summary);
  const body = el("div", "j-body");
  for (const [k, x] of entries) body.append(tree(x, isArray ? k : JSON.stringify(k), depth - 1));
  details.append(body);
  return details;
}

/**
 * A `<details>` whose summary previews `value` and whose body, built on first open, is the
 * whole value as a tree (two levels open). Scalars need no tree: they are shown as they are.
 */
export function jsonView(value, { label = "Result" } = {}) {
  if (value === null || typeof value !== "object") {
    const leaf = scalar(value);
    leaf.classList.add("j-inline");
    return leaf;
  }
  const details = el("details", "json");
  const summary = el("summary");
  summary.append(el("code", "j-preview", preview(value)));
  summary.setAttribute("aria-label", `${label}: ${preview(value, 200)}`);
  details.append(summary);
  details.addEventListener("toggle", () => {
    if (!details.open || details.querySelector(".j-tree")) return;
    const wrap = el("div", "j-tree");
    wrap.append(tree(value, undefined, 2));
    details.append(wrap);
  });
  return details;
}
