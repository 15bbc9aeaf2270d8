// API tokens for scripts and CI: editors and superusers make them (a role no higher than
// their own, an expiry) and revoke them. The token is shown once; only its hash is kept.
import { api } from "../api.js";
import { announce, badge, date, field, h, stylesheet } from "../dom.js";

await stylesheet("more.css"); // this module's rules, before it draws anything

const STATUS = { active: "ok", expired: "muted", revoked: "bad" };
const RANK = { viewer: 1, editor: 2, superuser: 3 };

export async function tokensView(root, ctx) {
  const list = h("div", { class: "table-wrap", "aria-live": "polite" });
  const made = h("div", { class: "result", "data-testid": "new-token" });
  const load = async () => {
    const tokens = await api("/api/tokens");
    list.replaceChildren(tokens.length ? table(tokens, load) : h("p", { class: "empty" }, "No API tokens yet."));
  };
  root.append(
    h("div", { class: "page-head" }, h("div", {}, h("h1", { tabindex: "-1" }, "API tokens"), h("p", { class: "muted" }, "For scripts and CI: send the token as 'Authorization: Bearer <token>' to the JSON API. It acts with its role, is named token:<name> in the audit log, and stops working when it expires, is revoked, or you lose that role."))),
    ctx.canEdit ? form(ctx, made, load) : h("p", { class: "notice", role: "note" }, "Making tokens needs the editor role."),
    made,
    list,
  );
  ctx.viewReload = load;
  if (ctx.canEdit) await load();
}

function form(ctx, made, load) {
  const name = h("input", { name: "name", required: true, maxlength: 100, placeholder: "ci-deploy" });
  const own = RANK[ctx.user.role] || 0;
  const role = h(
    "select",
    { name: "role" },
    Object.keys(RANK)
      .filter((r) => RANK[r] <= own)
      .map((r) => h("option", { value: r, selected: r === "viewer" }, r)),
  );
  const days = h("input", { name: "expires_in_days", type: "number", min: 1, max: 365, value: 90, required: true });
  const submit = async (event) => {
    event.preventDefault();
    try {
      const token = await api("/api/tokens", { method: "POST", body: { name: name.value.trim(), role: role.value, expires_in_days: Number(days.value) } });
      name.value = "";
      made.replaceChildren(shown(token));
      announce(`Token ${token.name} made. Copy it now: it is shown once.`, "ok");
      await load();
    } catch (error) {
      announce(error.message, "error");
    }
  };
  return h(
    "form",
    { class: "toolbar", onsubmit: submit, "data-testid": "token-form" },
    field("Name", name),
    field("Role", role),
    field("Expires in (days)", days),
    h("button", { type: "submit", class: "primary" }, "Make token"),
  );
}

function shown(token) {
  const value = h("input", { readonly: true, value: token.token, "data-testid": "token-value", size: 60 });
  const copy = async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(token.token);
      announce("Copied.", "ok");
    } catch {
      announce("Press Ctrl+C (or ⌘C) to copy the selected token.", "warn");
    }
  };
  return h(
    "section",
    { class: "card" },
    h("h2", {}, `Token ${token.name} (${token.role})`),
    h("p", {}, "Shown once: copy it now into the script's secret store."),
    h("p", {}, value, " ", h("button", { type: "button", onclick: copy }, "Copy")),
  );
}

function table(tokens, load) {
  const revoke = async (token) => {
    try {
      await api(`/api/tokens/${token.id}`, { method: "DELETE" });
      announce(`Revoked the token ${token.name}.`, "ok");
      await load();
    } catch (error) {
      announce(error.message, "error");
    }
  };
  return h(
    "table",
    { class: "grid", "data-testid": "tokens" },
    h("thead", {}, h("tr", {}, ["Name", "Role", "Status", "Made by", "Expires", "Last used", ""].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      tokens.map((t) =>
        h(
          "tr",
          {},
          h("td", { "data-label": "Name" }, h("strong", {}, t.name), h("div", { class: "note" }, h("code", {}, `${t.prefix}…`))),
          h("td", { "data-label": "Role" }, badge(t.role, "role")),
          h("td", { "data-label": "Status" }, badge(t.status, STATUS[t.status] || "muted")),
          h("td", { "data-label": "Made by" }, t.created_by, h("div", { class: "note" }, date(t.created_at))),
          h("td", { "data-label": "Expires" }, date(t.expires_at)),
          h("td", { "data-label": "Last used" }, t.last_used_at ? date(t.last_used_at) : h("span", { class: "muted" }, "Never")),
          h("td", { "data-label": "Actions" }, t.status === "active" ? h("button", { type: "button", class: "small danger", onclick: () => revoke(t) }, "Revoke") : null),
        ),
      ),
    ),
  );
}
