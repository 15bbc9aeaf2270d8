// Edge diagnostics, as the seed's demo page did: /api/test1 must reach Django through the
// /api/* behaviour; /v1/test1 is outside it and must not (the static origin answers 403/404).
import { badge, h, stylesheet } from "../dom.js";

await stylesheet("more.css"); // this module's rules, before it draws anything

const CHECKS = [
  {
    path: "/api/test1",
    title: "Inside /api/*",
    expect: "Should reach the backend and answer “This is /api/test1”.",
    judge: (r) => r.ok && r.body.includes("This is /api/test1"),
    pass: "Reached the backend",
    fail: "Did not reach the backend",
  },
  {
    path: "/v1/test1",
    title: "Outside /api/*",
    expect: "Must not reach the backend: expect 403 or 404 from the static origin.",
    judge: (r) => (r.status === 403 || r.status === 404) && !r.body.includes("This is /api/test1"),
    pass: "Blocked: did not reach the backend",
    fail: "Reached something it should not",
  },
];

export function diagnosticsView(root) {
  root.append(
    h("div", { class: "page-head" }, h("div", {}, h("h1", { tabindex: "-1" }, "Diagnostics"), h("p", { class: "muted" }, "Checks that only /api/* travels to the backend."))),
    h("div", { class: "cards" }, CHECKS.map(check)),
  );
}

function check(c) {
  const out = h("div", { class: "result", "aria-live": "polite", "data-testid": `result-${c.path}` });
  const run = async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    out.replaceChildren(h("p", { class: "muted" }, "Calling…"));
    const started = performance.now();
    const r = await probe(c.path);
    const ms = Math.round(performance.now() - started);
    const passed = c.judge(r);
    out.replaceChildren(
      h("p", {}, badge(passed ? `Pass: ${c.pass}` : `Fail: ${c.fail}`, passed ? "ok" : "bad")),
      h("p", { class: "muted" }, `HTTP ${r.status || "error"} in ${ms} ms`),
      h("pre", { class: "body" }, r.body.slice(0, 400) || "(empty body)"),
    );
    button.disabled = false;
  };
  return h(
    "section",
    { class: "card" },
    h("h2", {}, c.title, " ", h("code", {}, c.path)),
    h("p", {}, c.expect),
    h("button", { type: "button", class: "primary", onclick: run }, `Call ${c.path}`),
    out,
  );
}

// A raw request for the diagnostics page: what came back, whatever it was.
async function probe(path) {
  try {
    const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    return { status: response.status, ok: response.ok, body: await response.text() };
  } catch (exc) {
    return { status: 0, ok: false, body: String(exc.message || exc) };
  }
}
