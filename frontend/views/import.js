// Import and export: paste or upload many networks (CSV with a cidr,label,note,expires_at
// header, or one CIDR per line with one label for all), check them line by line (a dry run:
// nothing saved), then import all of them, or the valid ones only. Export downloads the
// allowlist as CSV (importable again) or JSON.
import { ApiError, api, refused, UNREACHABLE, url } from "../api.js";
import { announce, badge, date, field, h, stylesheet } from "../dom.js";

await stylesheet("more.css"); // this module's rules, before it draws anything

const STATUS = { valid: "ok", created: "ok", refused: "bad" };
const EXAMPLE = "cidr,label,note,expires_at\n81.2.69.0/24,Head office,,\n2a00:1450:4009::/48,Head office IPv6,,\n81.2.70.5,Contractor,Audit week,2026-12-31T18:00:00Z";

export async function importView(root, ctx) {
  const results = h("div", { class: "table-wrap", "aria-live": "polite", "data-testid": "import-results" });
  root.append(
    h("div", { class: "page-head" }, h("div", {}, h("h1", { tabindex: "-1" }, "Import and export"), h("p", { class: "muted" }, "Add many networks at once, or download the allowlist."))),
    ctx.canEdit ? importForm(ctx, results) : h("p", { class: "notice", role: "note" }, "Importing needs the editor role; you can export."),
    results,
    exportCard(),
  );
}

function importForm(ctx, results) {
  const text = h("textarea", { name: "text", rows: 12, spellcheck: "false", placeholder: EXAMPLE, "data-testid": "import-text" });
  const file = h("input", { type: "file", name: "file", accept: ".csv,.txt,text/csv,text/plain" });
  const label = h("input", { name: "label", maxlength: 100, placeholder: "Branch offices" });
  const actions = h("div", { class: "actions" });
  let checked = null; // the text the last check was made on

  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    text.value = await chosen.text();
    text.dispatchEvent(new Event("input"));
  });
  // A confirmation is only offered for exactly the text that was checked.
  const stale = () => {
    if (checked !== null && (text.value !== checked.text || label.value !== checked.label)) {
      checked = null;
      actions.replaceChildren();
    }
  };
  text.addEventListener("input", stale);
  label.addEventListener("input", stale);

  const body = (extra) => {
    const payload = { text: text.value, ...extra };
    if (label.value.trim()) payload.label = label.value.trim();
    return payload;
  };
  const check = async (event) => {
    event.preventDefault();
    try {
      const report = await api("/api/networks/import", { method: "POST", body: body({ dry_run: true }) });
      checked = { text: text.value, label: label.value };
      results.replaceChildren(summary(report, "checked"), table(report.lines));
      actions.replaceChildren(...confirmButtons(report, commit));
      announce(report.refused ? `${report.refused} of ${report.total} lines refused.` : `All ${report.total} lines are valid.`, report.refused ? "warn" : "ok");
    } catch (error) {
      actions.replaceChildren();
      results.replaceChildren(h("p", { class: "alert", role: "alert" }, error.message));
      announce(error.message, "error");
    }
  };
  const commit = async (validOnly) => {
    try {
      const report = await api("/api/networks/import", { method: "POST", body: body({ valid_only: validOnly }) });
      actions.replaceChildren();
      checked = null;
      text.value = "";
      results.replaceChildren(summary(report, "imported"), table(report.lines));
      const pending = report.sync?.status === "pending" ? ` ${report.sync.reason}` : "";
      announce(`Imported ${report.created} networks.${pending}`, pending ? "warn" : "ok");
      await ctx.refresh();
    } catch (error) {
      // Refused (someone changed the allowlist since the check): the lines say why.
      if (error.detail?.lines) results.replaceChildren(summary(error.detail, "refused"), table(error.detail.lines));
      actions.replaceChildren();
      checked = null;
      announce(error.message, "error");
    }
  };
  return h(
    "form",
    { class: "card", onsubmit: check, "data-testid": "import-form" },
    h("h2", {}, "Import"),
    field("Networks", text, "CSV with the header cidr,label,note,expires_at (line 1), or one address or CIDR per line."),
    field("Or upload a file", file),
    field("Label", label, "Required for one CIDR per line; in a CSV, used where a line has no label."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Check")),
    actions,
  );
}

function confirmButtons(report, commit) {
  if (!report.refused) {
    return [h("p", {}, `Nothing is saved yet.`), h("button", { type: "button", class: "primary", onclick: () => commit(false) }, `Import all ${report.valid}`)];
  }
  if (!report.valid) return [h("p", {}, "No line is valid: fix the file and check again.")];
  return [
    h("p", {}, `Nothing is saved yet. Fix the refused lines and check again, or import the ${report.valid} valid ones.`),
    h("button", { type: "button", onclick: () => commit(true) }, `Import the ${report.valid} valid ones`),
  ];
}

function summary(report, what) {
  const parts = [`${report.total} lines`, `${report.valid} valid`, `${report.refused} refused`];
  if (what === "imported") parts.push(`${report.created} imported`);
  return h("p", { class: "result", "data-testid": "import-summary" }, `${what === "checked" ? "Checked" : what === "refused" ? "Refused, nothing saved" : "Imported"}: ${parts.join(", ")}.`);
}

function table(lines) {
  return h(
    "table",
    { class: "grid", "data-testid": "import-lines" },
    h("thead", {}, h("tr", {}, ["Line", "Network", "Label", "Expires", "Result"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      lines.map((l) =>
        h(
          "tr",
          { "data-line": l.line },
          h("td", { "data-label": "Line" }, String(l.line)),
          h("td", { "data-label": "Network" }, h("code", { class: "cidr" }, l.cidr)),
          h("td", { "data-label": "Label" }, l.label),
          h("td", { "data-label": "Expires" }, l.expires_at ? date(l.expires_at) : h("span", { class: "muted" }, "Never")),
          h(
            "td",
            { "data-label": "Result" },
            badge(l.status, STATUS[l.status] || "muted"),
            Object.entries(l.errors).map(([key, messages]) => messages.map((m) => h("div", { class: "field-error" }, `${key}: ${m}`))),
          ),
        ),
      ),
    ),
  );
}

function exportCard() {
  const expired = h("input", { type: "checkbox", name: "include_expired" });
  const get = (format) => async () => {
    try {
      await download("/api/networks/export", { query: { format, include_expired: expired.checked ? "true" : "" }, filename: `gatehouse-allowlist.${format}` });
      announce(`Downloaded the allowlist as ${format.toUpperCase()}.`, "ok");
    } catch (error) {
      announce(error.message, "error");
    }
  };
  return h(
    "section",
    { class: "card", "data-testid": "export" },
    h("h2", {}, "Export"),
    h("p", { class: "muted" }, "CSV has the import's columns, so an export imports again unchanged."),
    h("label", { class: "check" }, expired, " Include expired networks"),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: get("csv") }, "Download CSV"), h("button", { type: "button", onclick: get("json") }, "Download JSON")),
  );
}

// A file download under the same rules (same origin, session cookie, the error shape):
// fetch the body, then save it from a Blob through a temporary link (no inline script).
async function download(path, { query, filename } = {}) {
  let response;
  try {
    response = await fetch(url(path, query), { credentials: "same-origin" });
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  if (!response.ok) throw refused(response.status, await response.json().catch(() => null));
  const href = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), {
    href,
    download: filename,
    hidden: true,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 1000); // the download has started by then
}
