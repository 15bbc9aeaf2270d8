// What the allowlist's forms share: error display, the temporary-access fields, and the
// after-a-change routine (announce, refresh, restore focus).
import { ApiError } from "../api.js";
import { announce, field, h, hours, setAlert, showFieldErrors } from "../dom.js";

export function syncText(sync) {
  if (!sync) return "";
  return sync.status === "applied" ? " WAF updated." : ` WAF update pending${sync.reason ? `: ${sync.reason}` : ""}.`;
}

// After a change: say what happened, re-read the header and table, then put focus back.
export async function done(ctx, message, sync, focus) {
  announce(message + syncText(sync), sync?.status === "pending" ? "warn" : "ok");
  await ctx.refresh();
  await ctx.reload();
  focus?.()?.focus();
}

export const rowButton = (cidr, name) => () =>
  document.querySelector(`tr[data-cidr="${CSS.escape(cidr)}"] button[aria-label^="${name}"]`);

// Shows a failed request on its form: field messages next to fields, the rest on top.
export function showError(form, alert, error) {
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

export function temporaryFields(checked = false) {
  const temporary = h("input", { type: "checkbox", name: "temporary", checked });
  const ttl = h("input", { type: "number", name: "ttl_hours", min: "1", max: "8760", step: "1", value: "8", inputmode: "numeric" });
  const duration = field("Duration (hours)", ttl, "The entry expires after this many hours.");
  duration.hidden = !checked;
  temporary.addEventListener("change", () => {
    duration.hidden = !temporary.checked;
  });
  return [h("label", { class: "check" }, temporary, " Temporary access"), duration];
}

export function ttlOf(form) {
  return form.elements.temporary.checked ? hours(form.elements.ttl_hours) ?? form.elements.ttl_hours.value : undefined;
}
