// The allowlist screen: the table, search and filter, and the add form. The dialogs
// (allow my IP, edit, remove) load on first use from dialogs.js.
import { api } from "../api.js";
import { alertBox, announce, badge, clearFieldErrors, date, field, h, setAlert, showFieldErrors } from "../dom.js";
import { done, showError, temporaryFields, ttlOf } from "./forms.js";

const PAGE_SIZE = 50;
const state = { search: "", status: "", page: 1 };
const SOURCES = { adopted: "adopted from WAF", cli: "CLI", bootstrap: "bootstrap" };

// Loads the dialogs module, then opens one of its dialogs.
const open = (name, ...args) => import("./dialogs.js").then((m) => m[name](...args));

export async function networksView(root, ctx) {
  const heading = h("h1", { tabindex: "-1" }, "Allowlist");
  const list = h("div", { class: "table-wrap", "aria-live": "polite", "aria-busy": "true" });
  const search = h("input", { type: "search", name: "search", value: state.search, placeholder: "CIDR, label or note", autocomplete: "off" });
  const status = h(
    "select",
    { name: "status" },
    [["", "All"], ["active", "Active"], ["expired", "Expired"], ["review", "Needs review"]].map(([value, text]) =>
      h("option", { value, selected: state.status === value }, text),
    ),
  );
  let timer;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.search = search.value.trim();
      state.page = 1;
      load();
    }, 250);
  });
  status.addEventListener("change", () => {
    state.status = status.value;
    state.page = 1;
    load();
  });

  const actions = h("div", { class: "page-actions" });
  const notice = h("p", { class: "notice", role: "note", hidden: true });
  const addPanel = h("div", { id: "add-panel", class: "card", hidden: true });
  if (ctx.canEdit) {
    const toggle = h("button", { type: "button", class: "primary", "aria-expanded": "false", "aria-controls": "add-panel" }, "Add network");
    toggle.addEventListener("click", () => {
      const open = addPanel.hidden;
      addPanel.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) addPanel.querySelector("input").focus();
    });
    addPanel.append(addForm(ctx, () => {
      addPanel.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }));
    actions.append(h("button", { type: "button", onclick: () => open("allowMine", ctx) }, "Allow my current IP"), toggle);
  }

  root.append(
    h("div", { class: "page-head" }, h("div", {}, heading, h("p", { class: "muted" }, "Networks allowed through the edge. Every change is applied to the AWS WAF IP sets.")), actions),
    notice,
    addPanel,
    h(
      "div",
      { class: "toolbar", role: "search" },
      field("Search", search),
      field("Status", status),
    ),
    list,
  );

  async function load() {
    const me = ctx.me;
    notice.hidden = !me || me.allowed;
    notice.textContent = me ? `Your address ${me.viewer_ip} is not on the allowlist: once WAF is in sync, the edge blocks it.` : "";
    list.setAttribute("aria-busy", "true");
    try {
      const review = state.status === "review";
      const page = await api("/api/networks", {
        query: { search: state.search, status: review ? "" : state.status, needs_review: review ? "true" : "", page: state.page, page_size: PAGE_SIZE },
      });
      list.replaceChildren(table(page, ctx), pager(page));
    } catch (error) {
      list.replaceChildren(h("p", { class: "alert", role: "alert" }, error.message));
    }
    list.setAttribute("aria-busy", "false");
  }

  function pager(page) {
    const pages = Math.max(1, Math.ceil(page.count / PAGE_SIZE));
    const go = (delta) => () => {
      state.page += delta;
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

  ctx.viewReload = load;
  await load();
}

function table(page, ctx) {
  if (!page.results.length) {
    return h("p", { class: "empty" }, state.search || state.status ? "No networks match the filter." : "The allowlist is empty.");
  }
  const headings = ["Network", "Label", "Status", "Expires", "Created"];
  if (ctx.canEdit) headings.push("Actions");
  return h(
    "table",
    { class: "grid", "data-testid": "networks" },
    h("caption", { class: "visually-hidden" }, "Allowed networks"),
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
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
          n.needs_review ? h("button", { type: "button", class: "small", "aria-label": `Mark ${n.cidr} reviewed`, onclick: () => markReviewed(n, ctx) }, "Reviewed") : null,
          h("button", { type: "button", class: "small", "aria-label": `Edit ${n.cidr}`, onclick: () => open("edit", n, ctx) }, "Edit"),
          h("button", { type: "button", class: "small danger", "aria-label": `Remove ${n.cidr}`, onclick: () => open("remove", n, ctx) }, "Remove"),
        ),
      ),
    );
  }
  return h("tr", { "data-cidr": n.cidr }, cells);
}
// An adopted network someone has checked: clear its review mark.
async function markReviewed(n, ctx) {
  try {
    const saved = await api(`/api/networks/${n.id}`, { method: "PATCH", body: { reviewed: true } });
    await done(ctx, `Marked ${saved.cidr} reviewed.`, saved.sync, () => document.querySelector("main h1"));
  } catch (error) {
    announce(error.message, "error");
  }
}

function addForm(ctx, close) {
  const alert = alertBox();
  const form = h(
    "form",
    { novalidate: true, "aria-label": "Add a network" },
    h("h2", {}, "Add a network"),
    alert,
    h(
      "div",
      { class: "grid-form" },
      field("CIDR", h("input", { name: "cidr", required: true, autocomplete: "off", spellcheck: "false", placeholder: "203.0.113.0/24" }), "IPv4 or IPv6; a single address becomes /32 or /128."),
      field("Label", h("input", { name: "label", required: true, maxlength: "100", placeholder: "Head office" })),
    ),
    field("Note", h("textarea", { name: "note", rows: "2", maxlength: "1000" }), "Optional: why this network is allowed."),
    temporaryFields(),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Add network")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    setAlert(alert, "");
    const { cidr, label, note } = form.elements;
    const missing = {};
    if (!cidr.value.trim()) missing.cidr = "Enter an address or network.";
    if (!label.value.trim()) missing.label = "Give the network a label.";
    if (Object.keys(missing).length) return showFieldErrors(form, missing);
    const body = { cidr: cidr.value.trim(), label: label.value.trim(), note: note.value.trim() };
    const ttl = ttlOf(form);
    if (ttl !== undefined) body.ttl_hours = ttl;
    try {
      const added = await api("/api/networks", { method: "POST", body });
      form.reset();
      form.elements.temporary.dispatchEvent(new Event("change"));
      close();
      const covered = added.covered_by?.length ? ` Already covered by ${added.covered_by.join(", ")}.` : "";
      await done(ctx, `Added ${added.cidr}.${covered}`, added.sync);
    } catch (error) {
      showError(form, alert, error);
    }
  });
  return form;
}
