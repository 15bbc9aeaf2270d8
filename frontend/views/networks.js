// The allowlist: the table, search and filter, add, allow-my-IP, edit and remove. Every
// change goes through the API, which syncs WAF; a change that would cut off the user's
// own address comes back as 409 self_lockout and is only re-sent after a second yes.
import { ApiError, api } from "../api.js";
import { alertBox, announce, badge, clearFieldErrors, date, field, h, hours, modal, setAlert, showFieldErrors } from "../dom.js";

const PAGE_SIZE = 50;
const state = { search: "", status: "", page: 1 };
const SOURCES = { adopted: "adopted from WAF", cli: "CLI", bootstrap: "bootstrap" };

export async function networksView(root, ctx) {
  const heading = h("h1", { tabindex: "-1" }, "Allowlist");
  const list = h("div", { class: "table-wrap", "aria-live": "polite", "aria-busy": "true" });
  const search = h("input", { type: "search", name: "search", value: state.search, placeholder: "CIDR, label or note", autocomplete: "off" });
  const status = h(
    "select",
    { name: "status" },
    [["", "All"], ["active", "Active"], ["expired", "Expired"]].map(([value, text]) =>
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
    actions.append(h("button", { type: "button", onclick: () => allowMine(ctx) }, "Allow my current IP"), toggle);
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
      const page = await api("/api/networks", {
        query: { search: state.search, status: state.status, page: state.page, page_size: PAGE_SIZE },
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
    h("td", { "data-label": "Network" }, h("code", { class: "cidr" }, n.cidr), n.covers_you ? badge("Covers you", "you") : null),
    h("td", { "data-label": "Label" }, h("strong", {}, n.label), n.note ? h("div", { class: "note" }, n.note) : null),
    h(
      "td",
      { "data-label": "Status" },
      n.status === "active" ? badge("Active", "ok") : badge("Expired", "muted"),
      SOURCES[n.source] ? badge(SOURCES[n.source], n.source === "adopted" ? "warn" : "muted") : null,
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
          h("button", { type: "button", class: "small", "aria-label": `Edit ${n.cidr}`, onclick: () => edit(n, ctx) }, "Edit"),
          h("button", { type: "button", class: "small danger", "aria-label": `Remove ${n.cidr}`, onclick: () => remove(n, ctx) }, "Remove"),
        ),
      ),
    );
  }
  return h("tr", { "data-cidr": n.cidr }, cells);
}

function syncText(sync) {
  if (!sync) return "";
  return sync.status === "applied" ? " WAF updated." : ` WAF update pending${sync.reason ? `: ${sync.reason}` : ""}.`;
}

// After a change: say what happened, re-read the header and table, then put focus back.
async function done(ctx, message, sync, focus) {
  announce(message + syncText(sync), sync?.status === "pending" ? "warn" : "ok");
  await ctx.refresh();
  await ctx.reload();
  focus?.()?.focus();
}

const rowButton = (cidr, name) => () =>
  document.querySelector(`tr[data-cidr="${CSS.escape(cidr)}"] button[aria-label^="${name}"]`);

// Shows a failed request on its form: field messages next to fields, the rest on top.
function showError(form, alert, error) {
  if (!(error instanceof ApiError)) throw error;
  const fields = { ...error.fields };
  if (fields.expires_at && form.elements.ttl_hours) {
    fields.ttl_hours = fields.expires_at;
    delete fields.expires_at;
  }
  if (error.code === "duplicate" && !fields.cidr) {
    const existing = error.detail.existing;
    fields.cidr = existing ? `${error.message} (${existing.cidr}, “${existing.label}”)` : error.message;
  }
  const rest = showFieldErrors(form, fields);
  setAlert(alert, rest.length ? rest.join(" ") : Object.keys(fields).length ? "" : error.message);
}

function temporaryFields(checked = false) {
  const temporary = h("input", { type: "checkbox", name: "temporary", checked });
  const ttl = h("input", { type: "number", name: "ttl_hours", min: "1", max: "8760", step: "1", value: "8", inputmode: "numeric" });
  const duration = field("Duration (hours)", ttl, "The entry expires after this many hours.");
  duration.hidden = !checked;
  temporary.addEventListener("change", () => {
    duration.hidden = !temporary.checked;
  });
  return [h("label", { class: "check" }, temporary, " Temporary access"), duration];
}

function ttlOf(form) {
  return form.elements.temporary.checked ? hours(form.elements.ttl_hours) ?? form.elements.ttl_hours.value : undefined;
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

function allowMine(ctx) {
  const alert = alertBox();
  const me = ctx.me || {};
  const form = h(
    "form",
    { novalidate: true, method: "dialog" },
    h("p", {}, "Your address, as the edge sees it:"),
    h("p", { class: "big-ip" }, h("code", { "data-testid": "detected-ip" }, me.viewer_ip || "unknown")),
    me.allowed
      ? h("p", { class: "muted" }, `Already allowed by ${(me.covering_networks || []).map((n) => n.cidr).join(", ")}.`)
      : h("p", { class: "muted" }, "It is not on the allowlist yet."),
    alert,
    field("Label", h("input", { name: "label", maxlength: "100", value: `${ctx.user.username} (current IP)` })),
    temporaryFields(),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Allow this IP")),
  );
  const dialog = modal({ title: "Allow my current IP", body: form });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    setAlert(alert, "");
    const body = { label: form.elements.label.value.trim() || undefined };
    const ttl = ttlOf(form);
    if (ttl !== undefined) body.ttl_hours = ttl;
    try {
      const added = await api("/api/networks/mine", { method: "POST", body });
      dialog.close();
      await done(ctx, `Allowed your address ${added.cidr}${added.expires_at ? " temporarily" : ""}.`, added.sync);
    } catch (error) {
      showError(form, alert, error);
    }
  });
  form.elements.label.focus();
}

// The warning shown when the server says a change would block the user's own address.
function lockoutWarning(error) {
  const covering = (error.detail.covering || []).map((n) => n.cidr);
  return h(
    "div",
    { class: "warning", role: "alert" },
    h("strong", {}, "This would block your own address. "),
    `Your IP ${error.detail.viewer_ip || ""} is covered only by ${covering.join(", ") || "this network"}. `,
    "Once WAF syncs, you could no longer reach Gatehouse from here. Do it anyway?",
  );
}

// Sends a change; on self_lockout shows the warning and asks again before confirm=true.
async function sendWithConfirm({ form, alert, warn, submit, send, label }) {
  const confirm = submit.dataset.confirm === "true";
  try {
    return await send(confirm ? { confirm: "true" } : undefined);
  } catch (error) {
    if (error instanceof ApiError && error.code === "self_lockout" && !confirm) {
      warn.replaceChildren(lockoutWarning(error));
      warn.hidden = false;
      submit.dataset.confirm = "true";
      submit.textContent = label;
      submit.classList.add("danger");
      form.querySelector("[data-cancel]").focus();
    } else {
      showError(form, alert, error);
    }
    return null;
  }
}

function edit(n, ctx) {
  const alert = alertBox();
  const warn = h("div", { hidden: true });
  const expiry = h(
    "select",
    { name: "expiry" },
    h("option", { value: "keep" }, n.expires_at ? "Keep the current expiry" : "Keep: never expires"),
    n.expires_at ? h("option", { value: "never" }, "Never expires") : null,
    h("option", { value: "hours" }, "Expires in a number of hours"),
  );
  const ttl = h("input", { type: "number", name: "ttl_hours", min: "1", max: "8760", value: "8", inputmode: "numeric" });
  const ttlField = field("Hours from now", ttl);
  ttlField.hidden = true;
  expiry.addEventListener("change", () => {
    ttlField.hidden = expiry.value !== "hours";
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Save");
  const form = h(
    "form",
    { novalidate: true },
    h("p", {}, h("code", { class: "cidr" }, n.cidr), n.expires_at ? h("span", { class: "muted" }, " expires ", date(n.expires_at, { rel: true })) : null),
    alert,
    warn,
    field("Label", h("input", { name: "label", required: true, maxlength: "100", value: n.label })),
    field("Note", h("textarea", { name: "note", rows: "3", maxlength: "1000" }, n.note || "")),
    field("Expiry", expiry),
    ttlField,
    h("div", { class: "actions" }, h("button", { type: "button", "data-cancel": true, onclick: () => dialog.close() }, "Cancel"), submit),
  );
  const dialog = modal({ title: `Edit ${n.cidr}`, body: form });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    setAlert(alert, "");
    const body = { label: form.elements.label.value.trim(), note: form.elements.note.value.trim() };
    if (!body.label) return showFieldErrors(form, { label: "Give the network a label." });
    if (expiry.value === "never") body.expires_at = null;
    if (expiry.value === "hours") body.ttl_hours = hours(ttl) ?? ttl.value;
    const saved = await sendWithConfirm({
      form, alert, warn, submit, label: "Save anyway",
      send: (query) => api(`/api/networks/${n.id}`, { method: "PATCH", body, query }),
    });
    if (saved) {
      dialog.close();
      await done(ctx, `Saved ${saved.cidr}.`, saved.sync, rowButton(n.cidr, "Edit"));
    }
  });
  form.elements.label.focus();
}

function remove(n, ctx) {
  const alert = alertBox();
  const warn = h("div", { hidden: true });
  const submit = h("button", { type: "submit", class: "danger" }, "Remove");
  const form = h(
    "form",
    { novalidate: true },
    h("p", {}, "Remove ", h("code", { class: "cidr" }, n.cidr), ` (${n.label}) from the allowlist? The edge blocks it once WAF syncs.`),
    alert,
    warn,
    h("div", { class: "actions" }, h("button", { type: "button", "data-cancel": true, onclick: () => dialog.close() }, "Cancel"), submit),
  );
  let removed = false;
  const dialog = modal({
    title: "Remove network",
    body: form,
    returnTo: () => (removed ? document.querySelector("main h1") : null),
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setAlert(alert, "");
    const ok = await sendWithConfirm({
      form, alert, warn, submit, label: "Remove anyway",
      send: (query) => api(`/api/networks/${n.id}`, { method: "DELETE", query }).then(() => true),
    });
    if (ok) {
      removed = true;
      dialog.close();
      await done(ctx, `Removed ${n.cidr}.`, null, () => document.querySelector("main h1"));
    }
  });
  form.querySelector("[data-cancel]").focus();
}
