// The header: navigation, who is signed in (and as what), the viewer's address as the
// edge sees it and whether the allowlist covers it, and the WAF sync state.
import { api } from "../api.js";
import { announce, badge, date, h, modal } from "../dom.js";

const SYNC = {
  in_sync: ["In sync", "ok"],
  pending: ["Pending", "warn"],
  failed: ["Failed", "bad"],
};

export function renderHeader(top, ctx, hash) {
  const link = (href, text) =>
    h("a", { href, "aria-current": hash === href ? "page" : null }, text);
  const bar = h(
    "div",
    { class: "bar" },
    h("a", { class: "brand", href: "#/networks" }, h("span", { class: "logo", "aria-hidden": "true" }), "Gatehouse"),
    h(
      "nav",
      { "aria-label": "Main" },
      ctx.user && link("#/networks", "Allowlist"),
      ctx.user && link("#/audit", "Audit log"),
      link("#/diagnostics", "Diagnostics"),
    ),
    ctx.user
      ? h(
          "div",
          { class: "who" },
          h("span", { class: "user", "data-testid": "user" }, ctx.user.username),
          badge(ctx.user.role, "role"),
          h("button", { type: "button", class: "quiet", onclick: () => ctx.signOut() }, "Sign out"),
        )
      : h("div", { class: "who" }, h("a", { href: "#/networks" }, "Sign in")),
  );
  top.replaceChildren(bar);
  if (ctx.user && ctx.me) top.append(h("div", { class: "strip" }, viewerInfo(ctx.me), syncInfo(ctx)));
  top.hidden = false;
}

function viewerInfo(me) {
  const covering = me.covering_networks || [];
  return h(
    "p",
    { class: "you", "data-testid": "viewer" },
    "Your IP ",
    h("code", {}, me.viewer_ip),
    " ",
    me.allowed
      ? badge("Allowed", "ok")
      : badge("Not allowed", "bad"),
    covering.length ? h("span", { class: "muted" }, ` by ${covering.map((n) => n.cidr).join(", ")}`) : null,
  );
}

function syncInfo(ctx) {
  const sets = ctx.sync?.sets || [];
  const wrap = h("div", { class: "sync", "data-testid": "sync" }, "WAF ");
  if (!ctx.sync) {
    wrap.append(badge("Unknown", "muted"));
    return wrap;
  }
  const worst = sets.find((s) => s.status === "failed") || sets.find((s) => s.status === "pending");
  const [text, kind] = ctx.sync.in_sync && !worst ? SYNC.in_sync : SYNC[worst?.status] || SYNC.pending;
  const which = worst ? sets.filter((s) => s.status === worst.status) : [];
  const label = which.length && which.length < sets.length ? `${text} (IPv${which.map((s) => s.ip_version).join(", IPv")})` : text;
  const state = badge(label, kind);
  state.title = sets.map((s) => `${s.name}: ${s.status}`).join("\n");
  wrap.append(state);
  const times = sets.map((s) => s.last_synced_at).filter(Boolean).sort();
  if (times.length) wrap.append(h("span", { class: "muted" }, " last synced ", date(times[times.length - 1])));
  const error = sets.find((s) => s.last_error)?.last_error;
  if (error && worst) wrap.append(h("span", { class: "sync-error" }, error));
  const adopted = (ctx.lastSync?.sets || []).flatMap((s) => s.adopted || []);
  if (adopted.length) {
    wrap.append(
      h(
        "span",
        { class: "notice", role: "note" },
        `Adopted from WAF (added outside Gatehouse): ${adopted.join(", ")}`,
      ),
    );
  }
  if (ctx.canEdit) {
    wrap.append(
      h("button", { type: "button", class: "small", onclick: () => preview(ctx) }, "Preview"),
      h("button", { type: "button", class: "small", onclick: (e) => syncNow(ctx, e.currentTarget) }, "Sync now"),
    );
  }
  return wrap;
}

async function syncNow(ctx, button) {
  if (button) button.disabled = true;
  announce("Syncing the WAF IP sets…");
  try {
    const result = await api("/api/sync", { method: "POST", body: { dry_run: false } });
    ctx.lastSync = result;
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

async function preview(ctx) {
  const body = h("div", { class: "dialog-body" }, h("p", {}, "Reading the IP sets…"));
  const close = h("button", { type: "button", onclick: () => dialog.close() }, "Close");
  const apply = h("button", { type: "button", class: "primary", onclick: () => { dialog.close(); syncNow(ctx); } }, "Sync now");
  const dialog = modal({ title: "Sync preview (dry run)", body: h("div", {}, body, h("div", { class: "actions" }, close, apply)) });
  close.focus();
  try {
    const plan = await api("/api/sync", { method: "POST", body: { dry_run: true } });
    body.replaceChildren(...plan.sets.map(planFor));
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
  return h(
    "section",
    { class: "plan-set", "data-testid": "plan-set" },
    h("h3", {}, set.name, " ", h("span", { class: "muted" }, `IPv${set.ip_version}`)),
    changes ? null : h("p", { class: "muted" }, "No changes: the IP set matches the allowlist."),
    list("Add", set.to_add, "add"),
    list("Remove", set.to_remove, "remove"),
    list("Adopt (found in WAF, not added by Gatehouse)", set.adopted, "adopt"),
    set.error ? h("p", { class: "alert", role: "alert" }, set.error) : null,
  );
}
