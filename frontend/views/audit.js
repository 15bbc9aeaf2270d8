// The audit log: newest first, cursor-paginated, filtered by action and user.
import { api } from "../api.js";
import { date, field, h } from "../dom.js";

const ACTIONS = [
  "network.allow", "network.update", "network.revoke", "network.adopt", "network.expire",
  "sync.apply", "sync.fail", "auth.login", "auth.logout", "auth.login_failed", "auth.lockout",
];
const state = { action: "", actor: "", cursor: "", pages: [] };

// The server may hand back a full URL or a bare cursor; keep only the cursor.
function cursorOf(link) {
  if (!link) return null;
  if (!link.includes("/") && !link.includes("?")) return link;
  return new URL(link, location.href).searchParams.get("cursor") || "";
}

export async function auditView(root) {
  const heading = h("h1", { tabindex: "-1" }, "Audit log");
  const list = h("div", { class: "table-wrap", "aria-live": "polite" });
  const action = h("select", { name: "action" }, h("option", { value: "" }, "All actions"), ACTIONS.map((a) => h("option", { value: a, selected: state.action === a }, a)));
  const actor = h("input", { name: "actor", type: "search", value: state.actor, autocomplete: "off", placeholder: "username" });
  const filters = h("form", { class: "toolbar", role: "search" }, field("Action", action), field("User", actor), h("button", { type: "submit" }, "Filter"));
  const refilter = (event) => {
    event?.preventDefault();
    Object.assign(state, { action: action.value, actor: actor.value.trim(), cursor: "", pages: [] });
    load();
  };
  filters.addEventListener("submit", refilter);
  action.addEventListener("change", refilter);

  root.append(
    h("div", { class: "page-head" }, h("div", {}, heading, h("p", { class: "muted" }, "Every change, sync and sign-in, newest first. Entries are never edited or deleted."))),
    filters,
    list,
  );

  async function load() {
    list.setAttribute("aria-busy", "true");
    try {
      const page = await api("/api/audit", { query: { action: state.action, actor: state.actor, cursor: state.cursor } });
      list.replaceChildren(table(page.results), pager(page));
    } catch (error) {
      list.replaceChildren(h("p", { class: "alert", role: "alert" }, error.message));
    }
    list.setAttribute("aria-busy", "false");
  }

  function pager(page) {
    const go = (cursor) => () => {
      state.cursor = cursor;
      load().then(() => heading.focus());
    };
    const newer = cursorOf(page.previous);
    const older = cursorOf(page.next);
    return h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      h("button", { type: "button", class: "small", disabled: newer === null, onclick: go(newer) }, "Newer"),
      h("button", { type: "button", class: "small", disabled: older === null, onclick: go(older) }, "Older"),
    );
  }

  await load();
}

function table(events) {
  if (!events.length) return h("p", { class: "empty" }, "No audit events match.");
  return h(
    "table",
    { class: "grid", "data-testid": "audit" },
    h("caption", { class: "visually-hidden" }, "Audit events"),
    h("thead", {}, h("tr", {}, ["When", "User", "Action", "Subject", "Details", "From"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      events.map((e) =>
        h(
          "tr",
          { "data-action": e.action },
          h("td", { "data-label": "When" }, date(e.created_at)),
          h("td", { "data-label": "User" }, e.actor || "system"),
          h("td", { "data-label": "Action" }, h("code", {}, e.action)),
          h("td", { "data-label": "Subject" }, e.subject),
          h("td", { "data-label": "Details" }, details(e)),
          h("td", { "data-label": "From" }, e.request_ip ? h("code", { title: e.user_agent || "" }, e.request_ip) : ""),
        ),
      ),
    ),
  );
}

function details(e) {
  const parts = [];
  if (e.reason) parts.push(h("div", {}, e.reason));
  const before = e.before || {};
  const after = e.after || {};
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
  );
  if (changed.length && e.before && e.after) {
    parts.push(h("ul", { class: "changes" }, changed.map((k) => h("li", {}, `${k}: ${show(before[k])} → ${show(after[k])}`))));
  } else if (e.before || e.after) {
    parts.push(h("details", {}, h("summary", {}, e.after ? "Recorded values" : "Values before"), h("pre", {}, JSON.stringify(e.after || e.before, null, 1))));
  }
  return parts;
}

function show(value) {
  if (value === null || value === undefined || value === "") return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}
