// The console's entry point: who is signed in, which screen the hash names, and the
// shared state (me, sync) every screen reads. Hash routes keep the site a single
// index.html, so S3 needs no rewrite rules.
import { api, whenSignedOut } from "./api.js";
import { announce, clearStatus, h } from "./dom.js";
import { renderHeader } from "./views/header.js";

// Screens load on first use, so the first render fetches only the screen it shows:
// views/<file>.js, its export <name>.
const screen = (title, file, name, open = false) => ({
  title,
  open,
  view: () => import(`./views/${file}.js`).then((m) => m[name]),
});
const routes = {
  "#/networks": screen("Allowlist", "networks", "networksView"),
  // Recently blocked (issue 17): WAF's sampled requests, by address.
  "#/blocked": screen("Blocked", "blocked", "blockedView"),
  "#/links": screen("Access links", "links", "linksView"),
  "#/audit": screen("Audit log", "audit", "auditView"),
  // -- bulk import/export and API tokens (issue 17) --
  "#/import": screen("Import and export", "import", "importView"),
  "#/tokens": screen("API tokens", "tokens", "tokensView"),
  // -- end bulk/tokens --
  "#/second-factor": screen("Two-step sign-in", "second_factor", "secondFactorView"),
  "#/diagnostics": screen("Diagnostics", "diagnostics", "diagnosticsView", true),
};
const main = document.getElementById("main");
const top = document.getElementById("top");

const ctx = {
  session: null,
  user: null,
  me: null,
  sync: null,
  lastSync: null,
  lastPlan: null,
  canEdit: false,
  // Re-reads who I am and the sync state, then redraws the header.
  async refresh() {
    const [me, sync] = await Promise.all([api("/api/me"), api("/api/sync").catch(() => null)]);
    ctx.me = me;
    ctx.sync = sync;
    drawHeader();
  },
  // Redraws the current screen's data; a screen may offer a lighter reload than a re-render.
  viewReload: null,
  reload: () => (ctx.viewReload ? ctx.viewReload() : show({ keepFocus: true })),
  signOut,
  redrawHeader: () => drawHeader(),
};

function drawHeader() {
  renderHeader(top, ctx, currentRoute());
}

function signedIn(session) {
  ctx.session = session;
  ctx.user = session.authenticated ? session.user : null;
  ctx.canEdit = ["editor", "superuser"].includes(ctx.user?.role);
  hint(Boolean(ctx.user));
}

// Fetch the screen's module early: with the session if signed in last time, else on typing.
const HINT = "gatehouse.signedIn";
const preloadScreen = () => routes[currentRoute()]?.view().catch(() => null);

// hint(): signed in last time? hint(bool): remember.
function hint(yes) {
  try {
    if (yes === undefined) return localStorage.getItem(HINT) === "1";
    if (yes) localStorage.setItem(HINT, "1");
    else localStorage.removeItem(HINT);
  } catch {
    return false; // no storage, no hint
  }
}

// A screen's filters and page live after a "?" in the hash: #/networks?search=10.0.0.1
export function routeOf(hash) {
  return hash.split("?")[0];
}

// No hash ("/") is the allowlist, URL left as is: a rewrite would fetch the icon again.
function currentRoute() {
  return routeOf(location.hash) || "#/networks";
}

async function show({ keepFocus = false } = {}) {
  const hash = currentRoute();
  if (!hash.startsWith("#/")) return; // an in-page anchor such as the skip link
  const route = routes[hash];
  if (!keepFocus) clearStatus(); // messages belong to the screen they were said on
  if (!route) {
    history.replaceState(null, "", "#/networks");
    return show({ keepFocus });
  }
  if (!ctx.user && !route.open) return showLogin();
  if (ctx.user && pendingSecondFactor()) return showSecondFactor();
  document.title = `${route.title} · Gatehouse`;
  drawHeader();
  const screen = document.createElement("div");
  main.replaceChildren(screen);
  ctx.viewReload = null;
  const view = await route.view();
  if (screen.isConnected) await view(screen, ctx);
  // To the heading, unless the user is already at work on the screen (a form opened while
  // its rows were still loading keeps its focus, and its Escape).
  if (!keepFocus && !screen.contains(document.activeElement)) main.querySelector("h1")?.focus();
}

async function showLogin(message) {
  const { loginView } = await import("./views/login.js");
  // The sign-in form links to #/diagnostics: a link to the hash already shown would do
  // nothing, so the form never sits under that hash.
  if (routeOf(location.hash) === "#/diagnostics") history.replaceState(null, "", "#/networks");
  document.title = "Sign in · Gatehouse";
  top.hidden = true;
  top.replaceChildren();
  const screen = document.createElement("div");
  main.replaceChildren(screen);
  screen.addEventListener("input", preloadScreen, { once: true });
  loginView(screen, {
    session: ctx.session,
    message,
    onSignedIn: enter,
  });
}

// Signed in (password, then the second factor if the account has or needs one).
async function enter(session) {
  signedIn(session);
  if (pendingSecondFactor()) return showSecondFactor();
  if (ctx.user?.role === "none") return refuseNoRole();
  preloadScreen();
  await ctx.refresh();
  if (!routes[currentRoute()] || location.hash === "#/diagnostics") {
    history.replaceState(null, "", "#/networks");
  }
  await show();
  announce(`Signed in as ${ctx.user.username}.`, "ok");
}

// The code step or the enrolment the server asks for, and nothing else until it passes.
function pendingSecondFactor() {
  return ["code_required", "enrolment_required"].includes(ctx.session?.second_factor?.state);
}

async function showSecondFactor() {
  const { gate } = await import("./views/second_factor.js");
  top.hidden = true;
  top.replaceChildren();
  gate(main, ctx.session, { enter, signOut, showLogin, signedIn });
}

// Signed in, but no group grants anything yet: signed out again, with why (views/login.js).
async function refuseNoRole() {
  const { noRole } = await import("./views/login.js");
  const { session, message } = await noRole(ctx.session);
  signedIn(session);
  return showLogin(message);
}

async function signOut(message) {
  const out = await api("/api/auth/logout", { method: "POST" }).catch(() => null);
  // A single sign-on session: end the provider's session too (it sends the browser back).
  if (out?.end_session_url) return location.assign(out.end_session_url);
  signedIn(await api("/api/auth/session"));
  announce(message || "Signed out.");
  // Diagnostics stays open to everyone; any other screen shows the sign-in form.
  await show({ keepFocus: true });
}

whenSignedOut(() => {
  if (!ctx.user) return;
  signedIn({ authenticated: false, user: null, viewer_ip: ctx.session?.viewer_ip });
  showLogin("Your session has ended. Sign in again to continue.");
});

window.addEventListener("hashchange", () => show());

async function boot() {
  if (hint()) preloadScreen();
  try {
    signedIn(await api("/api/auth/session"));
    if (pendingSecondFactor()) return showSecondFactor();
    if (ctx.user?.role === "none") return refuseNoRole();
    if (ctx.user) await ctx.refresh();
    await show({ keepFocus: true });
  } catch (error) {
    main.replaceChildren(h("p", { class: "alert", role: "alert" }, error.message));
  }
}

boot();
