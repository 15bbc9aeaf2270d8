// Sync actions from the header: a dry-run preview of the plan, and "Sync now".
import { api } from "../api.js";
import { announce, h, stylesheet } from "../dom.js";
import { modal } from "../form.js";
import { driftText } from "./header.js";

await stylesheet("more.css"); // this module's rules, before it draws anything

export async function syncNow(ctx, button) {
  if (button) button.disabled = true;
  announce("Syncing the WAF IP sets…");
  try {
    const result = await api("/api/sync", { method: "POST", body: { dry_run: false } });
    ctx.lastSync = result;
    ctx.lastPlan = null;
    const failed = result.sets.filter((s) => s.error);
    announce(
      failed.length
        ? `Sync failed for ${failed.map((s) => s.name).join(", ")}: ${failed[0].error}`
        : `Synced: ${summary(result)}.`,
      failed.length ? "error" : "ok",
    );
    await ctx.refresh();
    await ctx.reload();
  } catch (error) {
    announce(`Sync failed: ${error.message}`, "error");
    if (button?.isConnected) button.disabled = false;
  }
}

function summary(result) {
  return result.sets
    .map((s) => `${s.name} ${s.wrote ? `+${s.to_add.length} −${s.to_remove.length}` : "unchanged"}`)
    .join(", ");
}

export async function preview(ctx) {
  const body = h("div", { class: "dialog-body" }, h("p", {}, "Reading the IP sets…"));
  const close = h("button", { type: "button", onclick: () => dialog.close() }, "Close");
  const apply = h("button", { type: "button", class: "primary", onclick: () => { dialog.close(); syncNow(ctx); } }, "Sync now");
  const dialog = modal({ title: "Sync preview (dry run)", body: h("div", {}, body, h("div", { class: "actions" }, close, apply)) });
  close.focus();
  try {
    const plan = await api("/api/sync", { method: "POST", body: { dry_run: true } });
    body.replaceChildren(...plan.sets.map(planFor));
    // The header names drift the preview found until the next sync corrects it.
    ctx.lastPlan = plan;
    ctx.redrawHeader?.();
  } catch (error) {
    body.replaceChildren(h("p", { class: "alert", role: "alert" }, error.message));
  }
}

function planFor(set) {
  const list = (label, items, kind) =>
    items?.length
      ? h("div", { class: `plan plan-${kind}` }, h("h4", {}, `${label} (${items.length})`), h("ul", {}, items.map((i) => h("li", {}, h("code", {}, i)))))
      : null;
  const changes = (set.to_add?.length || 0) + (set.to_remove?.length || 0) + (set.adopted?.length || 0);
  const restored = new Set(set.removed_outside || []);
  const drift = restored.size + (set.adopted?.length || 0);
  return h(
    "section",
    { class: "plan-set", "data-testid": "plan-set" },
    h("h3", {}, set.name, " ", h("span", { class: "muted" }, `IPv${set.ip_version}`)),
    changes ? null : h("p", { class: "muted" }, "No changes: the IP set matches the allowlist."),
    drift
      ? h("p", { class: "notice", role: "note", "data-testid": "drift" }, "Drift: this IP set was changed in WAF outside Gatehouse. A sync puts the allowlist back and adopts what was added there.")
      : null,
    list("Restore (drift: removed in WAF outside Gatehouse)", [...restored], "add"),
    list("Add", (set.to_add || []).filter((a) => !restored.has(a)), "add"),
    list("Remove", set.to_remove, "remove"),
    list("Adopt (drift: added in WAF outside Gatehouse)", set.adopted, "adopt"),
    list("Refuse and remove (found in WAF, fails the input rules)", Object.entries(set.refused || {}).map(([cidr, why]) => `${cidr}: ${why}`), "remove"),
    set.error ? h("p", { class: "alert", role: "alert" }, set.error) : null,
  );
}

// The header's notices about what the last preview (drift it found: `planned`, its sets
// with drift) and the last sync (what it adopted or refused) learnt, in that order.
export function notices(ctx, planned) {
  const note = (text) => h("span", { class: "notice", role: "note" }, text);
  const out = planned.map((set) => note(`Drift in ${set.name}: ${driftText(set.removed_outside, set.adopted)}; Sync now restores the allowlist.`));
  const adopted = (ctx.lastSync?.sets || []).flatMap((s) => s.adopted || []);
  if (adopted.length) out.push(note(`Adopted from WAF (added outside Gatehouse): ${adopted.join(", ")}`));
  const refused = (ctx.lastSync?.sets || []).flatMap((s) => Object.keys(s.refused || {}));
  if (refused.length) out.push(note(`Refused and removed from WAF (fails the input rules): ${refused.join(", ")}`));
  return out;
}
