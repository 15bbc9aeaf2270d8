// What a form needs once it is shown, and the first render of the allowlist does not: the
// server's messages next to their fields (the slots dom.js's field() makes), the form's
// alert, and the modal dialog the allowlist's dialogs and the sync preview open in.
import { h } from "./dom.js";

// Puts the server's per-field messages next to their fields; returns the unmatched ones.
export function showFieldErrors(form, fields) {
  clearFieldErrors(form);
  const rest = [];
  let first = null;
  for (const [name, messages] of Object.entries(fields || {})) {
    const text = [].concat(messages).join(" ");
    const control = form.elements[name];
    const slot = control && form.querySelector(`#${control.id}-error`);
    if (!slot) {
      rest.push(text);
      continue;
    }
    slot.textContent = text;
    slot.hidden = false;
    control.setAttribute("aria-invalid", "true");
    first = first || control;
  }
  if (first) first.focus();
  return rest;
}

export function clearFieldErrors(form) {
  for (const slot of form.querySelectorAll(".field-error")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
  }
}

// A form-level alert (role=alert makes screen readers read it at once).
export function alertBox() {
  return h("div", { class: "alert", role: "alert", hidden: true });
}

export function setAlert(box, message) {
  box.textContent = message || "";
  box.hidden = !message;
}

// Shows the server's field messages next to their fields, and the rest (or, with no field
// named, the error's own message) in the form's alert.
export function showFormErrors(form, alert, fields, message) {
  const rest = showFieldErrors(form, fields);
  setAlert(alert, rest.length ? rest.join(" ") : Object.keys(fields || {}).length ? "" : message);
}

let dialogSeq = 0;

// A modal <dialog>; focus returns to `returnTo` (or the opener) when it closes.
export function modal({ title, body, returnTo }) {
  const opener = document.activeElement;
  const heading = h("h2", { id: `dlg${++dialogSeq}` }, title);
  const dialog = h("dialog", { "aria-labelledby": heading.id }, heading, body);
  dialog.addEventListener("close", () => {
    dialog.remove();
    const target = (typeof returnTo === "function" ? returnTo() : returnTo) || opener;
    if (target?.isConnected) target.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
