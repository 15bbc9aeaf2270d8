// Sign in: the server's errors appear inline; a lockout says when to try again.
import { ApiError, api } from "../api.js";
import { field, formatDate, fromNow, h } from "../dom.js";
import { alertBox, clearFieldErrors, setAlert, showFieldErrors, showFormErrors } from "../form.js";

export function loginView(root, { session, message, onSignedIn }) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary wide" }, "Sign in");
  const alert = alertBox();
  const form = h(
    "form",
    { class: "card login", novalidate: true, "aria-labelledby": "login-title" },
    h("div", { class: "brand big" }, h("span", { class: "logo", "aria-hidden": "true" }), "Gatehouse"),
    h("h1", { id: "login-title", tabindex: "-1" }, "Sign in"),
    message ? h("p", { class: "notice", role: "status" }, message) : null,
    alert,
    field("Username", username),
    field("Password", password),
    submit,
    session?.viewer_ip ? h("p", { class: "muted small" }, "Signing in from ", h("code", {}, session.viewer_ip)) : null,
    h("p", { class: "muted small" }, h("a", { href: "#/diagnostics" }, "Edge diagnostics")),
  );
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
  username.focus();
}

function lockoutMessage(seconds) {
  const wait = Number(seconds);
  if (!Number.isFinite(wait) || wait <= 0) return "Too many failed sign-ins. Try again later.";
  const at = new Date(Date.now() + wait * 1000);
  return `Too many failed sign-ins from this address. Try again after ${formatDate(at)} (${fromNow(at)}).`;
}
