// The header: navigation, who is signed in (and as what), the viewer's address as the
// edge sees it and whether the allowlist covers it, and the WAF sync state.
import { badge, date, h } from "../dom.js";

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
      ctx.user && link("#/blocked", "Blocked"),
      ctx.user && link("#/links", "Access links"),
      ctx.user && link("#/audit", "Audit log"),
      ctx.canEdit && link("#/tokens", "API tokens"), // issue 17: editors and up
      link("#/diagnostics", "Diagnostics"),
      // Users and roles live in the Django admin; only superusers may open it.
      ctx.user?.role === "superuser" ? h("a", { href: "/api/admin/", "data-testid": "django-admin" }, "Users (Django admin)") : null,
    ),
    ctx.user
      ? h(
          "div",
          { class: "who" },
          h("span", { class: "user", "data-testid": "user" }, ctx.user.username),
          badge(ctx.user.role, "role"),
          h("a", { href: "#/second-factor", "aria-current": hash === "#/second-factor" ? "page" : null }, "Two-step sign-in"),
          h("button", { type: "button", class: "quiet", onclick: () => ctx.signOut() }, "Sign out"),
        )
      : h("div", { class: "who" }, h("a", { href: "#/networks" }, "Sign in")),
  );
  top.replaceChildren(bar);
  if (ctx.user && ctx.me) top.append(h("div", { class: "strip" }, viewerInfo(ctx.me), syncInfo(ctx)));
  top.hidden = false;
}

// The sync actions load on first use: most visits only look at the badge. Only they set
// ctx.lastPlan and ctx.lastSync, so the notices about what those found come from them too.
let syncModule = null;
async function sync(action, ...args) {
  syncModule = await import("./sync.js");
  syncModule[action](...args);
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

export function driftText(removed = [], added = []) {
  const parts = [];
  if (removed?.length) parts.push(`${removed.join(", ")} removed in WAF outside Gatehouse (restored by a sync)`);
  if (added?.length) parts.push(`${added.join(", ")} added in WAF outside Gatehouse (adopted)`);
  return parts.join("; ");
}

function syncInfo(ctx) {
  const sets = ctx.sync?.sets || [];
  const wrap = h("div", { class: "sync", "data-testid": "sync" }, "WAF ");
  if (!ctx.sync) {
    wrap.append(badge("Unknown", "muted"));
    return wrap;
  }
  const worst = sets.find((s) => s.status === "failed") || sets.find((s) => s.status === "pending");
  const planned = (ctx.lastPlan?.sets || []).filter((s) => s.removed_outside?.length || s.adopted?.length);
  const [text, kind] = planned.length && !worst
    ? ["Drift", "warn"]
    : ctx.sync.in_sync && !worst ? SYNC.in_sync : SYNC[worst?.status] || SYNC.pending;
  const which = worst ? sets.filter((s) => s.status === worst.status) : [];
  const label = which.length && which.length < sets.length ? `${text} (IPv${which.map((s) => s.ip_version).join(", IPv")})` : text;
  const state = badge(label, kind);
  state.title = sets.map((s) => `${s.name}: ${s.status}`).join("\n");
  wrap.append(state);
  const times = sets.map((s) => s.last_synced_at).filter(Boolean).sort();
  if (times.length) wrap.append(h("span", { class: "muted" }, " last synced ", date(times[times.length - 1])));
  const error = sets.find((s) => s.last_error)?.last_error;
  if (error && worst) wrap.append(h("span", { class: "sync-error" }, error));
  const reason = sets.find((s) => s.status === "pending" && s.pending_reason)?.pending_reason;
  if (reason && !error) wrap.append(h("span", { class: "muted", "data-testid": "sync-reason" }, ` ${reason}`));
  const corrected = sets.filter((s) => s.drift && (s.drift.removed_outside?.length || s.drift.added_outside?.length));
  for (const set of planned.length ? [] : corrected) {
    wrap.append(h("span", { class: "notice", role: "note" }, `Drift corrected at the last sync of ${set.name}: ${driftText(set.drift.removed_outside, set.drift.added_outside)}.`));
  }
  if (syncModule) wrap.append(...syncModule.notices(ctx, planned));
  if (ctx.canEdit) {
    wrap.append(
      h("button", { type: "button", class: "small", onclick: () => sync("preview", ctx) }, "Preview"),
      h("button", { type: "button", class: "small", onclick: (e) => sync("syncNow", ctx, e.currentTarget) }, "Sync now"),
    );
  }
  return wrap;
}
