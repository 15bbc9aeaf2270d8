// The audit log: newest first, cursor-paginated, filtered by action, user and dates, in
// words (the raw values stay one click away), exportable as CSV.
import { api, url } from "../api.js";
import { date, field, h, stylesheet } from "../dom.js";

await stylesheet("more.css"); // this module's rules, before it draws anything

const ACTIONS = {
  "network.allow": "Network allowed",
  "network.update": "Network changed",
  "network.revoke": "Network removed",
  "network.adopt": "Drift: adopted from WAF",
  "network.expire": "Network expired",
  "sync.apply": "WAF updated",
  "sync.fail": "WAF sync failed",
  "auth.login": "Signed in",
  "auth.logout": "Signed out",
  "auth.login_failed": "Sign-in failed",
  "auth.lockout": "Sign-in locked",
  "auth.sso_refused": "Single sign-on refused",
  "auth.second_factor": "Second factor passed",
  "auth.second_factor_enrolled": "Authenticator app set up",
  "auth.second_factor_reset": "Second factor reset",
  "access.create": "Access link made",
  "access.revoke": "Access link revoked",
  "access.redeem": "Access link used",
};
const FIELDS = { label: "label", note: "note", expires_at: "expiry", cidr: "network", source: "source" };
const state = { action: "", actor: "", since: "", until: "", cursor: "", pages: [] };

// A day picked in a date input, as the instant its local day starts (or the next starts).
function dayStart(value, plusDays = 0) {
  if (!value) return "";
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

function query() {
  return { action: state.action, actor: state.actor, since: dayStart(state.since), until: dayStart(state.until, 1) };
}

// The server may hand back a full URL or a bare cursor; keep only the cursor.
function cursorOf(link) {
  if (!link) return null;
  if (!link.includes("/") && !link.includes("?")) return link;
  return new URL(link, location.href).searchParams.get("cursor") || "";
}

export async function auditView(root) {
  const heading = h("h1", { tabindex: "-1" }, "Audit log");
  const list = h("div", { class: "table-wrap", "aria-live": "polite" });
  const action = h("select", { name: "action" }, h("option", { value: "" }, "All actions"), Object.entries(ACTIONS).map(([a, text]) => h("option", { value: a, selected: state.action === a }, text)));
  const actor = h("input", { name: "actor", type: "search", value: state.actor, autocomplete: "off", placeholder: "username or cli:user@host" });
  const since = h("input", { name: "since", type: "date", value: state.since });
  const until = h("input", { name: "until", type: "date", value: state.until });
  const csv = h("a", { class: "button small", download: "gatehouse-audit.csv", "data-testid": "audit-csv" }, "Export CSV");
  const filters = h(
    "form",
    { class: "toolbar", role: "search" },
    field("Action", action),
    field("User", actor),
    field("From", since),
    field("To", until),
    h("button", { type: "submit" }, "Filter"),
    csv,
  );
  const refilter = (event) => {
    event?.preventDefault();
    Object.assign(state, { action: action.value, actor: actor.value.trim(), since: since.value, until: until.value, cursor: "", pages: [] });
    load();
  };
  filters.addEventListener("submit", refilter);
  for (const control of [action, since, until]) control.addEventListener("change", refilter);

  root.append(
    h("div", { class: "page-head" }, h("div", {}, heading, h("p", { class: "muted" }, "Every change, sync and sign-in, newest first. Entries are never edited or deleted."))),
    filters,
    list,
  );

  async function load() {
    list.setAttribute("aria-busy", "true");
    try {
      csv.href = url("/api/audit/export", query());
      const page = await api("/api/audit", { query: { ...query(), cursor: state.cursor } });
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
          h("td", { "data-label": "User" }, actorText(e)),
          h("td", { "data-label": "Action" }, h("span", { title: e.action }, ACTIONS[e.action] || e.action)),
          h("td", { "data-label": "Subject" }, e.subject),
          h("td", { "data-label": "Details" }, details(e)),
          h("td", { "data-label": "From" }, e.request_ip ? h("code", { title: e.user_agent || "" }, e.request_ip) : ""),
        ),
      ),
    ),
  );
}

// "cli:alice@host" is a command run on a server by that operating-system user.
function actorText(e) {
  const who = e.actor || "system";
  if (who.startsWith("cli:")) return [who.slice(4), h("div", { class: "note" }, `command line${e.user_agent ? ` (${e.user_agent})` : ""}`)];
  // How that session signed in: password, password+totp, password+recovery, sso:<provider>.
  if (e.auth_method) return [who, h("div", { class: "note", "data-testid": "auth-method" }, `signed in with ${e.auth_method}`)];
  return who;
}

function list(items, total) {
  const shown = (items || []).join(", ");
  return total > (items || []).length ? `${shown} and ${total - items.length} more` : shown;
}

// What happened, in words; the recorded values stay available under "Recorded values".
function summary(e) {
  const before = e.before || {};
  const after = e.after || {};
  const expiry = (v) => (v ? ["expires ", date(v)] : "never expires");
  switch (e.action) {
    case "network.allow":
      return [`Allowed “${after.label || ""}”`, after.source && after.source !== "console" ? ` (source: ${after.source})` : "", "; ", expiry(after.expires_at), "."];
    case "network.adopt":
      return "Drift: found in the WAF IP set but never written by Gatehouse (added outside it); adopted into the allowlist.";
    case "access.create":
      return `Made an access link for “${after.label || ""}” (${after.hours} h of access).`;
    case "access.redeem":
      return `${e.subject} let in by the access link for “${after.label || ""}”, made by ${after.created_by || "?"}.`;
    case "network.revoke":
      return `Removed “${before.label || ""}”.`;
    case "network.expire":
      return ["Expired (", date(before.expires_at), ") and removed from WAF."];
    case "network.update": {
      const changed = Object.keys(FIELDS).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
      if (!changed.length) return "Saved without changes.";
      return h(
        "ul",
        { class: "changes" },
        changed.map((k) =>
          k === "expires_at"
            ? h("li", {}, "expiry: ", before[k] ? date(before[k]) : "never", " → ", after[k] ? date(after[k]) : "never")
            : h("li", {}, `${FIELDS[k]}: ${show(before[k])} → ${show(after[k])}`),
        ),
      );
    }
    case "sync.apply": {
      const parts = [];
      if (after.added_count) parts.push(`added ${list(after.added, after.added_count)}`);
      if (after.removed_count) parts.push(`removed ${list(after.removed, after.removed_count)}`);
      const text = parts.length ? `Wrote the IP set: ${parts.join("; ")}.` : "Wrote the IP set.";
      return after.removed_outside?.length ? `${text} Drift: ${after.removed_outside.join(", ")} had been removed in WAF outside Gatehouse and were restored.` : text;
    }
    default:
      return null;
  }
}

function details(e) {
  const parts = [];
  const said = summary(e);
  if (said) parts.push(h("div", {}, said));
  if (e.reason && e.action !== "network.adopt") parts.push(h("div", { class: "note" }, e.reason));
  if (e.before || e.after) {
    parts.push(h("details", {}, h("summary", {}, "Recorded values"), h("pre", {}, JSON.stringify(e.after || e.before, null, 1))));
  }
  return parts;
}

function show(value) {
  if (value === null || value === undefined || value === "") return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}
