// Sign in: the server's errors appear inline; a lockout says when to try again. With single
// sign-on configured, "Sign in with <provider>" comes first, and the password form is shown
// as the server says (session.sign_in.password: "on", "superusers" = break-glass, "off").
import { ApiError, api } from "../api.js";
import { field, formatDate, fromNow, h, stylesheet } from "../dom.js";
import { alertBox, clearFieldErrors, setAlert, showFieldErrors, showFormErrors } from "../form.js";

await stylesheet("login.css"); // this module's rules, before it draws anything

export function loginView(root, { session, message, onSignedIn }) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const sso = session?.sign_in?.sso;
  const passwordMode = sso ? session.sign_in.password : "on";
  const submit = h("button", { type: "submit", class: sso ? "wide" : "primary wide" }, "Sign in");
  const alert = alertBox();
  const passwordFields = [field("Username", username), field("Password", password), submit];
  const ssoLink = sso
    ? h("a", { class: "button primary wide sso", href: sso.start_url }, `Sign in with ${sso.provider_name}`)
    : null;
  let passwordPart = passwordFields;
  if (sso && passwordMode === "on") {
    passwordPart = [h("p", { class: "or muted small" }, "or with a password"), ...passwordFields];
  } else if (sso && passwordMode === "superusers") {
    passwordPart = [
      h("details", { class: "break-glass" }, h("summary", {}, "Administrator sign-in (break-glass)"), ...passwordFields),
    ];
  } else if (sso) {
    passwordPart = [];
  }
  const form = h(
    "form",
    { class: "card login", novalidate: true, "aria-labelledby": "login-title" },
    h("div", { class: "brand big" }, h("span", { class: "logo", "aria-hidden": "true" }), "Gatehouse"),
    h("h1", { id: "login-title", tabindex: "-1" }, "Sign in"),
    message ? h("p", { class: "notice", role: "status" }, message) : null,
    alert,
    ssoLink,
    ...passwordPart,
    session?.viewer_ip ? h("p", { class: "muted small" }, "Signing in from ", h("code", {}, session.viewer_ip)) : null,
    h("p", { class: "muted small" }, h("a", { href: "#/diagnostics" }, "Edge diagnostics")),
  );
  // A refused single sign-on (the callback sent the browser back here) says why, once.
  if (session?.sso_error) setAlert(alert, session.sso_error.message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    setAlert(alert, "");
    const missing = {};
    if (!username.value.trim()) missing.username = "Enter your username.";
    if (!password.value) missing.password = "Enter your password.";
    if (Object.keys(missing).length) return showFieldErrors(form, missing);
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const body = { username: username.value.trim(), password: password.value };
      const signed = await api("/api/auth/login", { method: "POST", body });
      await onSignedIn(signed);
    } catch (error) {
      submit.disabled = false;
      submit.textContent = "Sign in";
      if (!(error instanceof ApiError)) throw error;
      if (error.code === "locked_out") {
        setAlert(alert, lockoutMessage(error.detail.retry_after_seconds));
      } else {
        showFormErrors(form, alert, error.fields, error.message);
      }
      if (!alert.hidden) password.focus();
    }
  });
  root.append(h("div", { class: "center" }, form));
  if (username.isConnected && username.offsetParent !== null) username.focus();
  else ssoLink?.focus();
}

function lockoutMessage(seconds) {
  const wait = Number(seconds);
  if (!Number.isFinite(wait) || wait <= 0) return "Too many failed sign-ins. Try again later.";
  const at = new Date(Date.now() + wait * 1000);
  return `Too many failed sign-ins from this address. Try again after ${formatDate(at)} (${fromNow(at)}).`;
}

// Signed in, but no group grants anything yet: sign out again and say who can fix it, not
// "not allowed". Returns the signed-out session and the message for the sign-in form.
export async function noRole(session) {
  const name = session.user.username;
  // With single sign-on, roles come from the provider's groups (re-read at each sign-in).
  const sso = session.sign_in?.sso;
  const where = sso
    ? `a ${sso.provider_name} group that Gatehouse maps to viewer or editor`
    : "the viewer or editor group";
  await api("/api/auth/logout", { method: "POST" }).catch(() => null);
  return {
    session: await api("/api/auth/session"),
    message: `You signed in as ${name}, but your account has no role yet. Ask an admin to add you to ${where}, then sign in again.`,
  };
}
