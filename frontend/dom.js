// DOM helpers: every piece of data reaches the page as a Text node or an attribute value,
// never as HTML, so nothing the server (or a label) contains can run as markup.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const when = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

// A date in the user's locale with the time zone shown, in a <time> element;
// `rel` adds how far away it is ("in 2 hours") on a line of its own.
export function date(iso, { rel = false } = {}) {
  if (!iso) return null;
  const at = new Date(iso);
  const time = h("time", { datetime: iso, title: utcText(at) }, when.format(at));
  return rel ? [time, h("div", { class: "note" }, fromNow(at))] : time;
}

// The hover text of every date: the same moment in UTC, spelled for people.
export function utcText(at) {
  return `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function fromNow(at) {
  const minutes = Math.round((at - Date.now()) / 60000);
  const abs = Math.abs(minutes);
  if (abs < 60) return relative.format(minutes, "minute");
  if (abs < 48 * 60) return relative.format(Math.round(minutes / 60), "hour");
  return relative.format(Math.round(minutes / 1440), "day");
}

export function formatDate(at) {
  return when.format(at);
}

// Polite announcement for screen readers, also shown in the status banner. The banner
// clears itself after a while (errors stay longer) and on navigation (clearStatus).
const STATUS_SECONDS = { info: 6, ok: 8, warn: 15, error: 20 };
let statusTimer;

export function announce(message, kind = "info") {
  const region = document.getElementById("status");
  region.textContent = "";
  region.dataset.kind = kind;
  clearTimeout(statusTimer);
  requestAnimationFrame(() => {
    region.textContent = message;
  });
  statusTimer = setTimeout(clearStatus, (STATUS_SECONDS[kind] || 8) * 1000);
}

export function clearStatus() {
  clearTimeout(statusTimer);
  const region = document.getElementById("status");
  if (region) region.textContent = "";
}

let fieldSeq = 0;

// A labelled form field with a hint and an error slot wired up through aria-describedby.
export function field(label, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const described = [error.id];
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
    described.unshift(hintEl.id);
  }
  control.setAttribute("aria-describedby", described.join(" "));
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl, error);
  wrap.dataset.name = control.name;
  return wrap;
}

export function badge(text, kind) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

// A stylesheet beyond style.css, added once; resolves once loaded (a module awaits it before
// drawing) or failed (the screen works, plainer; the next use tries again).
const sheets = {};
export function stylesheet(href) {
  return (sheets[href] ??= new Promise((resolve) => {
    const link = h("link", { rel: "stylesheet", href, onload: resolve });
    link.addEventListener("error", () => {
      link.remove();
      delete sheets[href];
      resolve();
    });
    document.head.append(link);
  }));
}
