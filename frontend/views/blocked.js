// Recently blocked: the addresses the web ACL refused in the last three hours (WAF's
// sampled requests, grouped by address, newest first). An editor lets one in for a while
// in two clicks: "Allow…" on its row, then "Allow" in the dialog (POST /api/networks with
// ttl_hours: the usual rules and the audit apply).
import { api } from "../api.js";
import { announce, badge, date, field, h } from "../dom.js";
import { alertBox, clearFieldErrors, modal, setAlert } from "../form.js";
import { showError } from "./forms.js";

// The choices offered; 8 hours (a working day) is the default.
const DURATIONS = [
  [1, "1 hour"],
  [8, "8 hours"],
  [24, "24 hours"],
  [72, "3 days"],
  [168, "7 days"],
];
const DEFAULT_HOURS = 8;

export async function blockedView(root, ctx) {
  const list = h("div", { class: "table-wrap", "aria-live": "polite", "data-testid": "blocked" });
  const summary = h("p", { class: "muted", "data-testid": "blocked-summary" });
  const load = async () => {
    try {
      const report = await api("/api/blocked");
      summary.replaceChildren(...summaryText(report));
      list.replaceChildren(
        report.addresses.length
          ? table(report.addresses, ctx, load)
          : h("p", { class: "empty" }, report.sampling_enabled ? "Nothing blocked in the last three hours." : "WAF keeps no samples for this web ACL (sampling is off in its visibility config)."),
      );
    } catch (error) {
      summary.replaceChildren();
      list.replaceChildren(h("p", { class: "alert", role: "alert", "data-testid": "blocked-error" }, error.message));
    }
  };
  root.append(
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        {},
        h("h1", { tabindex: "-1" }, "Blocked"),
        h("p", { class: "muted" }, "Addresses the edge blocked in the last three hours, from WAF's sample of requests (up to 500): a colleague who cannot get in shows up here."),
      ),
      h("button", { type: "button", onclick: () => load() }, "Refresh"),
    ),
    ...(ctx.canEdit ? [] : [h("p", { class: "muted" }, "You have read-only access.")]),
    summary,
    list,
  );
  ctx.viewReload = load;
  await load();
}

function summaryText(report) {
  const requests = report.addresses.reduce((sum, a) => sum + a.count, 0);
  const of = report.population_size > report.sampled ? ` (a sample of ${report.population_size.toLocaleString("en")} requests)` : "";
  const text = `${report.addresses.length} address${report.addresses.length === 1 ? "" : "es"}, ${requests} blocked request${requests === 1 ? "" : "s"} sampled${of} since `;
  return [text, date(report.since), "."];
}

function table(addresses, ctx, load) {
  return h(
    "table",
    { class: "grid" },
    h("thead", {}, h("tr", {}, ["Address", "Requests", "Last seen", "Country", "Paths", ""].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      addresses.map((a) =>
        h(
          "tr",
          { "data-address": a.address },
          h("td", { "data-label": "Address" }, h("code", {}, a.address)),
          h("td", { "data-label": "Requests" }, String(a.count)),
          h("td", { "data-label": "Last seen" }, date(a.last_seen)),
          h("td", { "data-label": "Country" }, a.country || h("span", { class: "muted" }, "Unknown")),
          h("td", { "data-label": "Paths" }, paths(a)),
          h("td", { "data-label": "Actions" }, action(a, ctx, load)),
        ),
      ),
    ),
  );
}

function paths(a) {
  return h(
    "div",
    { class: "note" },
    a.paths.map((p, i) => [i ? ", " : null, h("code", {}, p)]),
    a.more_paths ? ` and ${a.more_paths} more` : null,
  );
}

function action(a, ctx, load) {
  if (a.allowed_now) return badge("Allowed now", "ok");
  if (!ctx.canEdit) return null;
  return h("button", { type: "button", class: "small", "aria-label": `Allow ${a.address}…`, onclick: () => allow(a, ctx, load) }, "Allow…");
}

function allow(a, ctx, load) {
  const alert = alertBox();
  const hours = h(
    "select",
    { name: "ttl_hours" },
    DURATIONS.map(([value, text]) => h("option", { value, selected: value === DEFAULT_HOURS }, text)),
  );
  const form = h(
    "form",
    { novalidate: true },
    h("p", {}, "Let ", h("code", {}, a.address), " through the edge for a while. It is added to the allowlist as temporary access and expires by itself."),
    alert,
    field("For", hours),
    field("Label", h("input", { name: "label", required: true, maxlength: "100", value: `Blocked address ${a.address}` })),
    h("div", { class: "actions" }, h("button", { type: "button", "data-cancel": true, onclick: () => dialog.close() }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Allow")),
  );
  const dialog = modal({ title: `Allow ${a.address}`, body: form, returnTo: () => document.querySelector("main h1") });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    setAlert(alert, "");
    const body = { cidr: a.address, label: form.elements.label.value.trim(), ttl_hours: Number(hours.value) };
    try {
      const added = await api("/api/networks", { method: "POST", body });
      dialog.close();
      const waf = added.sync?.status === "applied" ? " WAF updated." : " WAF update pending.";
      announce(`Allowed ${added.cidr} for ${hours.selectedOptions[0].text}.${waf}`, added.sync?.status === "applied" ? "ok" : "warn");
      await ctx.refresh();
      await load();
    } catch (error) {
      showError(form, alert, error);
    }
  });
  form.querySelector("button[type=submit]").focus();
}
