// The allowlist screen: the table, search and filter. What only a change needs loads on
// first use, so the first render fetches none of it: the add form (add.js), the dialogs
// (allow my IP, edit, remove: dialogs.js) and the after-a-change routine (forms.js).
import { api } from "../api.js";
import { announce, badge, date, field, h } from "../dom.js";

const PAGE_SIZE = 50;
// The screen's filters, sort and page live in the URL (#/networks?search=…&page=2), so a
// reload, the back button or a shared link shows the same list. Previous and Next follow
// the API's links: their cursor (kept here, not in the URL) reads the page from an index
// wherever it is; a reload reads page N by number.
const state = { search: "", contains: "", status: "", ordering: "", page: 1, cursor: "" };
const SORTABLE = { Label: "label", Expires: "expires_at", Created: "created_at" };

function readUrl() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  state.search = params.get("search") || "";
  state.contains = params.get("contains") || "";
  state.status = ["active", "expired", "review"].includes(params.get("status")) ? params.get("status") : "";
  state.ordering = Object.values(SORTABLE).some((f) => [f, `-${f}`].includes(params.get("ordering"))) ? params.get("ordering") : "";
  state.page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  state.cursor = "";
}

// A new filter or sort starts again from page 1.
function firstPage() {
  state.page = 1;
  state.cursor = "";
}

function writeUrl() {
  const params = new URLSearchParams();
  for (const key of ["search", "contains", "status", "ordering"]) if (state[key]) params.set(key, state[key]);
  if (state.page > 1) params.set("page", String(state.page));
  const query = params.toString();
  history.replaceState(null, "", `#/networks${query ? `?${query}` : ""}`);
}
const SOURCES = { adopted: "adopted from WAF", cli: "CLI", bootstrap: "bootstrap", access_link: "access link" };

// Loads the dialogs module, then opens one of its dialogs.
const open = (name, ...args) => import("./dialogs.js").then((m) => m[name](...args));
// Loads the after-a-change routines (forms.js), then runs one; a failed download says why.
const change = (name, ...args) =>
  import("./forms.js")
    .then((m) => m[name](...args))
    .catch((error) => announce(error.message, "error"));
// Loaded once, on first use; a click waits for it, so nothing races the download. A failed
// download (e.g. offline) is not remembered: the next click tries again.
let addModule = null;
const loadAdd = () =>
  (addModule ??= import("./add.js").catch((error) => {
    addModule = null;
    throw error;
  }));
const preloadAdd = () => loadAdd().catch(() => null);

export async function networksView(root, ctx) {
  readUrl();
  const heading = h("h1", { tabindex: "-1" }, "Allowlist");
  const list = h("div", { class: "table-wrap", "aria-live": "polite", "aria-busy": "true" });
  const search = h("input", { type: "search", name: "search", value: state.search, placeholder: "Address, CIDR, label or note", autocomplete: "off" });
  const contains = h("input", { type: "search", name: "contains", value: state.contains, placeholder: "147.46.3.9", autocomplete: "off" });
  const containsField = field("Contains address", contains);
  const containsError = containsField.querySelector(".field-error");
  const status = h(
    "select",
    { name: "status" },
    [["", "All"], ["active", "Active"], ["expired", "Expired"], ["review", "Needs review"]].map(([value, text]) =>
      h("option", { value, selected: state.status === value }, text),
    ),
  );
  const onType = (input, key) => {
    let timer;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        state[key] = input.value.trim();
        firstPage();
        writeUrl();
        load();
      }, 250);
    });
  };
  onType(search, "search");
  onType(contains, "contains");
  status.addEventListener("change", () => {
    state.status = status.value;
    firstPage();
    writeUrl();
    load();
  });

  const actions = h("div", { class: "page-actions" });
  const allowMineSlot = h("span", { class: "allow-mine" });
  const notice = h("p", { class: "notice", role: "note", hidden: true });
  const addPanel = h("div", { id: "add-panel", class: "card", hidden: true });
  const readOnly = ctx.canEdit
    ? null
    : h("p", { class: "notice", role: "note", "data-testid": "read-only" }, "You have read-only access (viewer). To add or change networks, ask an admin to add you to the editor group.");
  if (ctx.canEdit) {
    const toggle = h("button", { type: "button", class: "primary", "aria-expanded": "false", "aria-controls": "add-panel" }, "Add network");
    // The form is built on the first click (add.js); hovering or focusing the button starts
    // the download early, and a second click while it loads does not close what it opens.
    let opening = null;
    toggle.addEventListener("pointerenter", preloadAdd, { once: true });
    toggle.addEventListener("focus", preloadAdd, { once: true });
    toggle.addEventListener("click", () => {
      opening ??= loadAdd()
        .then((m) => m.toggleAdd(addPanel, toggle, ctx))
        .catch((error) => announce(error.message, "error"))
        .finally(() => {
          opening = null;
        });
    });
    // Now, not when rows arrive: it must not shift "Add network" under a pointer.
    allowMineSlot.replaceChildren(...[allowMineButton(ctx)].flat());
    actions.append(allowMineSlot, toggle);
  }
  // Bulk import (editors) and export (everyone): views/import.js.
  actions.append(h("a", { href: "#/import", class: "button", "data-testid": "import-link" }, ctx.canEdit ? "Import / export" : "Export"));

  root.append(
    h("div", { class: "page-head" }, h("div", {}, heading, h("p", { class: "muted" }, "Networks allowed through the edge. Every change is applied to the AWS WAF IP sets.")), actions),
    readOnly ?? "",
    notice,
    addPanel,
    h(
      "div",
      { class: "toolbar", role: "search" },
      field("Search", search),
      containsField,
      field("Status", status),
    ),
    list,
  );

  async function load() {
    const me = ctx.me;
    if (ctx.canEdit) allowMineSlot.replaceChildren(...[allowMineButton(ctx)].flat());
    notice.hidden = !me || me.allowed;
    notice.textContent = me ? `Your address ${me.viewer_ip} is not on the allowlist: once WAF is in sync, the edge blocks it.` : "";
    list.setAttribute("aria-busy", "true");
    containsError.hidden = true;
    contains.removeAttribute("aria-invalid");
    try {
      const review = state.status === "review";
      const page = await api("/api/networks", {
        query: { search: state.search, contains: state.contains, status: review ? "" : state.status, needs_review: review ? "true" : "", ordering: state.ordering, page: state.cursor ? "" : state.page, cursor: state.cursor, page_size: PAGE_SIZE },
      });
      state.page = page.page || state.page;
      list.replaceChildren(table(page, ctx, sortBy), pager(page));
    } catch (error) {
      if (state.cursor && error.fields?.cursor) {
        // A cursor the server no longer takes (e.g. after a key rotation): by number.
        state.cursor = "";
        return load();
      }
      const invalid = error.fields?.contains?.[0];
      containsError.textContent = invalid;
      containsError.hidden = !invalid;
      if (invalid) contains.setAttribute("aria-invalid", "true");
      list.replaceChildren(invalid ? "" : h("p", { class: "alert", role: "alert" }, error.message));
    }
    list.setAttribute("aria-busy", "false");
  }

  function pager(page) {
    const pages = Math.max(1, Math.ceil(page.count / PAGE_SIZE));
    const go = (delta) => () => {
      // The link's cursor; none on the way back to page 1 (its plain URL).
      const link = new URL(delta > 0 ? page.next : page.previous, location.href);
      state.cursor = link.searchParams.get("cursor") || "";
      state.page = Math.max(1, state.page + delta);
      writeUrl();
      load().then(() => heading.focus());
    };
    return h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      h("span", { class: "muted" }, `${page.count} network${page.count === 1 ? "" : "s"} · page ${state.page} of ${pages}`),
      h("button", { type: "button", class: "small", disabled: !page.previous, onclick: go(-1) }, "Previous"),
      h("button", { type: "button", class: "small", disabled: !page.next, onclick: go(1) }, "Next"),
    );
  }

  function sortBy(field) {
    state.ordering = state.ordering === field ? `-${field}` : field;
    firstPage();
    writeUrl();
    load().then(() => list.querySelector(`th[data-sort="${field}"] button`)?.focus());
  }

  ctx.viewReload = load;
  await load();
}

// "Allow my current IP" can only fail when your own /32 (or /128) is already listed.
function allowMineButton(ctx) {
  const me = ctx.me || {};
  const own = (me.covering_networks || []).find((n) => n.cidr === `${me.viewer_ip}/${me.viewer_ip?.includes(":") ? 128 : 32}`);
  const button = h("button", { type: "button", disabled: Boolean(own), onclick: () => open("allowMine", ctx) }, "Allow my current IP");
  if (!own) return button;
  const why = h("span", { class: "muted small", id: "allow-mine-why" }, `Your address is already listed as ${own.cidr}.`);
  button.setAttribute("aria-describedby", why.id);
  return [button, why];
}

function table(page, ctx, sortBy) {
  if (!page.results.length) {
    return h("p", { class: "empty" }, state.search || state.contains || state.status ? "No networks match the filter." : "The allowlist is empty.");
  }
  const headings = ["Network", "Label", "Status", "Expires", "Created"];
  if (ctx.canEdit) headings.push("Actions");
  const heading = (text) => {
    const field = SORTABLE[text];
    if (!field) return h("th", { scope: "col" }, text);
    const sorted = state.ordering === field ? "ascending" : state.ordering === `-${field}` ? "descending" : null;
    const arrow = sorted === "ascending" ? " ▲" : sorted === "descending" ? " ▼" : "";
    return h(
      "th",
      { scope: "col", "aria-sort": sorted, "data-sort": field },
      h("button", { type: "button", class: "sort", onclick: () => sortBy(field) }, text, arrow),
    );
  };
  return h(
    "table",
    { class: "grid", "data-testid": "networks" },
    h("caption", { class: "visually-hidden" }, "Allowed networks"),
    h("thead", {}, h("tr", {}, headings.map(heading))),
    h("tbody", {}, page.results.map((n) => row(n, ctx))),
  );
}

function row(n, ctx) {
  const cells = [
    h("td", { "data-label": "Network" }, h("code", { class: "cidr" }, n.cidr), n.covers_you === true ? badge("Covers you", "you") : null),
    h("td", { "data-label": "Label" }, h("strong", {}, n.label), n.note ? h("div", { class: "note" }, n.note) : null),
    h(
      "td",
      { "data-label": "Status" },
      n.status === "active" ? badge("Active", "ok") : badge("Expired", "muted"),
      SOURCES[n.source] ? badge(SOURCES[n.source], n.source === "adopted" ? "warn" : "muted") : null,
      n.needs_review ? badge("Review", "warn") : null,
    ),
    h("td", { "data-label": "Expires" }, n.expires_at ? date(n.expires_at, { rel: true }) : h("span", { class: "muted" }, "Never")),
    h("td", { "data-label": "Created" }, n.created_by || h("span", { class: "muted" }, "system"), h("div", { class: "note" }, date(n.created_at))),
  ];
  if (ctx.canEdit) {
    cells.push(
      h(
        "td",
        { "data-label": "Actions" },
        h(
          "div",
          { class: "row-actions" },
          n.needs_review ? h("button", { type: "button", class: "small", "aria-label": `Mark ${n.cidr} reviewed`, onclick: () => change("markReviewed", n, ctx) }, "Reviewed") : null,
          h("button", { type: "button", class: "small", "aria-label": `Edit ${n.cidr}`, onclick: () => open("edit", n, ctx) }, "Edit"),
          h("button", { type: "button", class: "small danger", "aria-label": `Remove ${n.cidr}`, onclick: () => open("remove", n, ctx) }, "Remove"),
        ),
      ),
    );
  }
  return h("tr", { "data-cidr": n.cidr }, cells);
}
