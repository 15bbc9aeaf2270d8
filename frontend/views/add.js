// The allowlist's add form. It loads on first use (the "Add network" button awaits it), so
// the first render of the allowlist fetches neither this form nor the expiry helpers. The
// form opens in the panel under the button; Cancel, Escape or the button close it again.
import { api } from "../api.js";
import { field, h } from "../dom.js";
import { alertBox, clearFieldErrors, setAlert, showFieldErrors } from "../form.js";
import { done, showError, temporaryFields, ttlOf } from "./forms.js";

// The button's click, once this module is here: opens the panel (building the form the
// first time, its first field focused) or closes it, the focus back on the button.
export function toggleAdd(panel, toggle, ctx) {
  const close = () => {
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  };
  if (!panel.hidden) return close();
  if (!panel.firstChild) {
    panel.append(addForm(ctx, close));
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
  }
  panel.hidden = false;
  toggle.setAttribute("aria-expanded", "true");
  panel.querySelector("input").focus();
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
      field("CIDR (required)", h("input", { name: "cidr", required: true, autocomplete: "off", spellcheck: "false", placeholder: "your address, e.g. 81.2.69.0/24" }), "IPv4 or IPv6; a single address becomes /32 or /128."),
      field("Label (required)", h("input", { name: "label", required: true, maxlength: "100", placeholder: "Head office" }), "Who or what this network is, up to 100 characters."),
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
    const expiry = ttlOf(form);
    if (expiry.error) return showFieldErrors(form, expiry.error);
    const body = { cidr: cidr.value.trim(), label: label.value.trim(), note: note.value.trim(), ...expiry.body };
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
