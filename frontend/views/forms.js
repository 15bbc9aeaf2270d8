// What the allowlist's forms share: error display, the temporary-access fields, and the
// after-a-change routine (announce, refresh, restore focus).
import { ApiError, api } from "../api.js";
import { announce, field, h, stylesheet } from "../dom.js";
import { showFormErrors } from "../form.js";

await stylesheet("more.css"); // this module's rules, before it draws anything

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
    fields[form.elements.until?.value ? "until" : "ttl_hours"] = fields.expires_at;
    delete fields.expires_at;
  }
  if (fields.ttl_hours && form.elements.ttl_hours) fields.ttl_hours = hoursMessage();
  if (error.code === "duplicate" && !fields.cidr) {
    const existing = error.detail.existing;
    fields.cidr = existing ? `${error.message} (${existing.cidr}, “${existing.label}”)` : error.message;
  }
  showFormErrors(form, alert, fields, error.message);
}

// The longest temporary access the server takes, read once from its OpenAPI schema
// (ttl_hours' maximum) so the console and the API never disagree. Until it loads, or if
// it cannot, the console checks only "1 or more" and the server says the rest.
let maxHours = null;
let schemaRead = null;
function readLimit() {
  schemaRead ??= api("/api/schema", { query: { format: "json" } })
    .then((schema) => {
      const max = schema?.components?.schemas?.NetworkCreateRequest?.properties?.ttl_hours?.maximum;
      if (Number.isInteger(max)) maxHours = max;
    })
    .catch(() => null);
  return schemaRead;
}

function limitText() {
  if (maxHours === null) return "1 or more";
  const days = maxHours % 24 === 0 ? ` (${(maxHours / 24).toLocaleString("en")} days)` : "";
  return `from 1 to ${maxHours.toLocaleString("en")}${days}`;
}

export function hoursMessage() {
  return `Enter a whole number of hours ${limitText()}, or pick a date and time.`;
}

// Local date-time in the form a datetime-local input takes ("2026-11-28T23:59").
function localInputValue(at) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

// The expiry inputs every form shares: hours from now, or a date and time (with "until
// end of day"); one name, one limit, one wording.
export function expiryFields({ hidden = false } = {}) {
  const ttl = h("input", { type: "number", name: "ttl_hours", min: "1", step: "1", value: "8", inputmode: "numeric" });
  const until = h("input", { type: "datetime-local", name: "until" });
  const endOfDay = h("button", { type: "button", class: "small" }, "Until end of day");
  const hint = h("span", {}, "Whole hours from now.");
  readLimit().then(() => {
    if (maxHours === null) return;
    ttl.setAttribute("max", String(maxHours));
    const most = maxHours % 24 === 0 ? `${(maxHours / 24).toLocaleString("en")} days` : `${maxHours.toLocaleString("en")} hours`;
    hint.textContent = `Whole hours from now, at most ${most}.`;
  });
  endOfDay.addEventListener("click", () => {
    const at = new Date();
    at.setHours(23, 59, 0, 0);
    until.value = localInputValue(at);
    until.dispatchEvent(new Event("input"));
  });
  until.addEventListener("input", () => {
    ttl.disabled = Boolean(until.value);
  });
  const wrap = h(
    "div",
    { class: "expiry-fields" },
    field("Expires in (hours)", ttl, hint),
    field("Or expires at", until, "Your local time."),
    h("div", { class: "field end-of-day" }, endOfDay),
  );
  wrap.hidden = hidden;
  return wrap;
}

export function temporaryFields(checked = false) {
  const temporary = h("input", { type: "checkbox", name: "temporary", checked });
  const expiry = expiryFields({ hidden: !checked });
  temporary.addEventListener("change", () => {
    expiry.hidden = !temporary.checked;
  });
  return [h("label", { class: "check" }, temporary, " Temporary access"), expiry];
}

// The expiry the form asks for: {ttl_hours} or {expires_at}, or {error: {field: text}}.
export function expiryOf(form) {
  const { ttl_hours: ttl, until } = form.elements;
  if (until.value) {
    const at = new Date(until.value);
    if (Number.isNaN(at.getTime()) || at <= new Date()) {
      return { error: { until: "Pick a date and time in the future." } };
    }
    return { body: { expires_at: at.toISOString() } };
  }
  const text = ttl.value.trim();
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isInteger(n) || n < 1 || (maxHours !== null && n > maxHours)) {
    return { error: { ttl_hours: hoursMessage() } };
  }
  return { body: { ttl_hours: n } };
}

// Temporary-access forms: nothing when the box is unticked.
export function ttlOf(form) {
  return form.elements.temporary.checked ? expiryOf(form) : { body: {} };
}

// "Reviewed" on an adopted network's row (views/networks.js): someone has checked it, so
// its review mark is cleared.
export async function markReviewed(n, ctx) {
  try {
    const saved = await api(`/api/networks/${n.id}`, { method: "PATCH", body: { reviewed: true } });
    await done(ctx, `Marked ${saved.cidr} reviewed.`, saved.sync, () => document.querySelector("main h1"));
  } catch (error) {
    announce(error.message, "error");
  }
}
