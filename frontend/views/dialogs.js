// The allowlist's dialogs: allow my IP, edit, remove. A change that would cut off the
// user's own address comes back as 409 self_lockout and is re-sent with confirm=true only
// after the user says yes a second time.
import { ApiError, api } from "../api.js";
import { date, field, h } from "../dom.js";
import { alertBox, clearFieldErrors, modal, setAlert, showFieldErrors } from "../form.js";
import { done, expiryFields, expiryOf, rowButton, showError, temporaryFields, ttlOf } from "./forms.js";

export function allowMine(ctx) {
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
    const expiry = ttlOf(form);
    if (expiry.error) return showFieldErrors(form, expiry.error);
    const body = { label: form.elements.label.value.trim() || undefined, ...expiry.body };
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
// `when`: when the block would start ("once WAF syncs" for a removal, "when it expires"
// for an expiry).
function lockoutWarning(error, when) {
  const covering = (error.detail.covering || []).map((n) => n.cidr);
  return h(
    "div",
    { class: "warning", role: "alert" },
    h("strong", {}, "This would block your own address. "),
    `Your IP ${error.detail.viewer_ip || ""} is covered only by ${covering.join(", ") || "this network"}. `,
    `${when}, you could no longer reach Gatehouse from here. Do it anyway?`,
  );
}

// The server's refusal of a change that would empty the allowlist (or one IP version's
// WAF set, now or when an expiry passes): no confirmation can override it.
function refusal(error) {
  return h(
    "div",
    { class: "warning", role: "alert", "data-testid": "refusal" },
    h("strong", {}, "Gatehouse keeps this network. "),
    error.message,
  );
}

// Sends a change; on self_lockout shows the warning and asks again before confirm=true;
// on empty_allowlist explains the refusal and offers no way round it.
async function sendWithConfirm({ form, alert, warn, submit, send, label, when = "Once WAF syncs" }) {
  const confirm = submit.dataset.confirm === "true";
  try {
    return await send(confirm ? { confirm: "true" } : undefined);
  } catch (error) {
    if (error instanceof ApiError && error.code === "self_lockout" && !confirm) {
      warn.replaceChildren(lockoutWarning(error, when));
      warn.hidden = false;
      submit.dataset.confirm = "true";
      submit.textContent = label;
      submit.classList.add("danger");
      form.querySelector("[data-cancel]").focus();
    } else if (error instanceof ApiError && error.code === "empty_allowlist") {
      warn.replaceChildren(refusal(error));
      warn.hidden = false;
      submit.disabled = true;
      form.querySelector("[data-cancel]").focus();
    } else {
      showError(form, alert, error);
    }
    return null;
  }
}

export function edit(n, ctx) {
  const alert = alertBox();
  const warn = h("div", { hidden: true });
  const expiry = h(
    "select",
    { name: "expiry" },
    h("option", { value: "keep" }, n.expires_at ? "Keep the current expiry" : "Keep: never expires"),
    n.expires_at ? h("option", { value: "never" }, "Never expires") : null,
    h("option", { value: "hours" }, "Set a new expiry"),
  );
  const ttlField = expiryFields({ hidden: true });
  expiry.addEventListener("change", () => {
    ttlField.hidden = expiry.value !== "hours";
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Save");
  const form = h(
    "form",
    { novalidate: true },
    n.expires_at ? h("p", { class: "muted" }, "Expires ", date(n.expires_at, { rel: true })) : null,
    alert,
    warn,
    field("Label (required)", h("input", { name: "label", required: true, maxlength: "100", value: n.label })),
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
    if (expiry.value === "hours") {
      const chosen = expiryOf(form);
      if (chosen.error) return showFieldErrors(form, chosen.error);
      Object.assign(body, chosen.body);
    }
    const saved = await sendWithConfirm({
      form, alert, warn, submit, label: "Save anyway", when: "When it expires",
      send: (query) => api(`/api/networks/${n.id}`, { method: "PATCH", body, query }),
    });
    if (saved) {
      dialog.close();
      await done(ctx, `Saved ${saved.cidr}.`, saved.sync, rowButton(n.cidr, "Edit"));
    }
  });
  form.elements.label.focus();
}

export function remove(n, ctx) {
  const alert = alertBox();
  const warn = h("div", { hidden: true });
  const submit = h("button", { type: "submit", class: "danger" }, "Remove");
  const form = h(
    "form",
    { novalidate: true },
    h("p", {}, "Remove ", h("code", { class: "cidr" }, n.cidr), ` “${n.label}” from the allowlist? The edge blocks it once WAF syncs.`),
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
