// Access links: one-time links that let someone outside the allowlist in (their address,
// for some hours). Editors make and revoke them; the URL is shown once, never again.
import { api } from "../api.js";
import { announce, badge, date, field, h, stylesheet } from "../dom.js";

await stylesheet("more.css"); // this module's rules, before it draws anything

const STATUS = { active: "ok", used: "muted", expired: "muted", revoked: "bad" };

export async function linksView(root, ctx) {
  const list = h("div", { class: "table-wrap", "aria-live": "polite" });
  const made = h("div", { class: "result", "data-testid": "new-link" });
  const load = async () => {
    const links = await api("/api/access-links");
    list.replaceChildren(links.length ? table(links, ctx, load) : h("p", { class: "empty" }, "No access links yet."));
  };
  root.append(
    h("div", { class: "page-head" }, h("div", {}, h("h1", { tabindex: "-1" }, "Access links"), h("p", { class: "muted" }, "A link lets whoever opens it allow their own address for some hours, from anywhere. Send it to one person."))),
    ctx.canEdit ? form(made, load) : h("p", { class: "muted" }, "You have read-only access."),
    made,
    list,
  );
  ctx.viewReload = load;
  await load();
}

function form(made, load) {
  const label = h("input", { name: "label", required: true, maxlength: 100, placeholder: "Dana (contractor), onboarding week" });
  const hours = h("input", { name: "hours", type: "number", min: 1, max: 168, value: 8, required: true });
  const valid = h("input", { name: "valid_hours", type: "number", min: 1, max: 720, value: 24, required: true });
  const submit = async (event) => {
    event.preventDefault();
    const body = { label: label.value.trim(), hours: Number(hours.value), valid_hours: Number(valid.value) };
    try {
      const link = await api("/api/access-links", { method: "POST", body });
      label.value = "";
      made.replaceChildren(shown(link));
      announce(`Access link made for ${link.label}. Copy it now: it is shown once.`, "ok");
      await load();
    } catch (error) {
      announce(error.message, "error");
    }
  };
  return h(
    "form",
    { class: "toolbar", onsubmit: submit, "data-testid": "link-form" },
    field("For whom, and why", label),
    field("Access lasts (hours)", hours),
    field("Link valid for (hours)", valid),
    h("button", { type: "submit", class: "primary" }, "Make link"),
  );
}

function shown(link) {
  const url = h("input", { readonly: true, value: link.url, "data-testid": "link-url", size: 60 });
  const copy = async () => {
    url.select();
    try {
      await navigator.clipboard.writeText(link.url);
      announce("Copied.", "ok");
    } catch {
      announce("Press Ctrl+C (or ⌘C) to copy the selected link.", "warn");
    }
  };
  return h(
    "section",
    { class: "card" },
    h("h2", {}, `Link for ${link.label}`),
    h("p", {}, "Shown once: copy it now and send it to that person only."),
    h("p", {}, url, " ", h("button", { type: "button", onclick: copy }, "Copy")),
  );
}

function table(links, ctx, load) {
  const revoke = async (link) => {
    try {
      await api(`/api/access-links/${link.id}`, { method: "DELETE" });
      announce(`Revoked the link for ${link.label}.`, "ok");
      await load();
    } catch (error) {
      announce(error.message, "error");
    }
  };
  return h(
    "table",
    { class: "grid", "data-testid": "links" },
    h("thead", {}, h("tr", {}, ["For", "Status", "Made by", "Access", "Redeemed", ""].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      links.map((l) =>
        h(
          "tr",
          {},
          h("td", { "data-label": "For" }, h("strong", {}, l.label)),
          h("td", { "data-label": "Status" }, badge(l.status, STATUS[l.status] || "muted"), l.status === "active" ? h("div", { class: "note" }, "until ", date(l.expires_at)) : null),
          h("td", { "data-label": "Made by" }, l.created_by, h("div", { class: "note" }, date(l.created_at))),
          h("td", { "data-label": "Access" }, `${l.hours} h`),
          h("td", { "data-label": "Redeemed" }, l.redeemed_from ? [h("code", {}, l.network || l.redeemed_from), h("div", { class: "note" }, date(l.used_at))] : h("span", { class: "muted" }, "Not yet")),
          h("td", { "data-label": "Actions" }, ctx.canEdit && l.status === "active" ? h("button", { type: "button", class: "small danger", onclick: () => revoke(l) }, "Revoke") : null),
        ),
      ),
    ),
  );
}
