// The second factor: the code step after the password, enrolling an authenticator app (a
// QR code the server renders as SVG, shown through <img>, so it can run nothing), and the
// one-time recovery codes, shown once. A session in the code or enrolment step sees only
// these screens: the server refuses its changes until it passes.
import { ApiError, api } from "../api.js";
import { field, formatDate, fromNow, h, stylesheet } from "../dom.js";
import { alertBox, clearFieldErrors, setAlert, showFormErrors } from "../form.js";

await Promise.all([stylesheet("login.css"), stylesheet("more.css")]); // its rules, before it draws

// The screen a session at the code or enrolment step sees (app.js hides everything else).
export function gate(main, session, { enter, signOut, showLogin, signedIn }) {
  const screen = document.createElement("div");
  main.replaceChildren(screen);
  const onSignOut = () => signOut();
  const onLocked = async (message) => {
    signedIn(await api("/api/auth/session"));
    showLogin(message);
  };
  if (session.second_factor.state === "code_required") {
    document.title = "Two-step sign-in · Gatehouse";
    codeStepView(screen, { onVerified: enter, onSignOut, onLocked });
  } else {
    document.title = "Set up two-step sign-in · Gatehouse";
    enrolView(screen, { required: true, onDone: enter, onSignOut, onLocked });
  }
}

function card(title, ...children) {
  return h(
    "div",
    { class: "center" },
    h(
      "div",
      { class: "card login", "aria-labelledby": "mfa-title" },
      h("div", { class: "brand big" }, h("span", { class: "logo", "aria-hidden": "true" }), "Gatehouse"),
      h("h1", { id: "mfa-title", tabindex: "-1" }, title),
      ...children,
    ),
  );
}

function codeInput(name = "code") {
  return h("input", { name, autocomplete: "one-time-code", inputmode: "text", required: true, autocapitalize: "none", spellcheck: "false" });
}

function lockoutMessage(seconds) {
  const wait = Number(seconds);
  if (!Number.isFinite(wait) || wait <= 0) return "Too many wrong codes. Try again later.";
  const at = new Date(Date.now() + wait * 1000);
  return `Too many wrong codes. Sign in again after ${formatDate(at)} (${fromNow(at)}).`;
}

// Submits `send(code)`; shows the server's message next to the field, or the lockout.
function codeForm({ label, hint, button, send, onLocked }) {
  const code = codeInput();
  const submit = h("button", { type: "submit", class: "primary wide" }, button);
  const alert = alertBox();
  const form = h("form", { novalidate: true }, alert, field(label, code, hint), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    setAlert(alert, "");
    if (!code.value.trim()) return showFormErrors(form, alert, { code: "Enter the code." });
    submit.disabled = true;
    try {
      await send(code.value.trim());
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code === "locked_out") return onLocked(lockoutMessage(error.detail.retry_after_seconds));
      showFormErrors(form, alert, error.fields, error.message);
      code.select();
    } finally {
      submit.disabled = false;
    }
  });
  return { form, focus: () => code.focus() };
}

// After the password: the authenticator's code, or a recovery code.
export function codeStepView(root, { onVerified, onSignOut, onLocked }) {
  const { form, focus } = codeForm({
    label: "Code",
    hint: "The 6-digit code from your authenticator app, or one of your recovery codes.",
    button: "Verify",
    send: async (code) => onVerified(await api("/api/auth/second-factor/verify", { method: "POST", body: { code } })),
    onLocked,
  });
  root.replaceChildren(
    card(
      "Two-step sign-in",
      h("p", {}, "Enter the code your authenticator app shows for Gatehouse."),
      form,
      h("p", { class: "muted small" }, h("button", { type: "button", class: "quiet", onclick: onSignOut }, "Sign out")),
    ),
  );
  focus();
}

// Enrolment: [current code, when replacing] -> QR code and secret -> confirm -> recovery codes.
export function enrolView(root, { replacing = false, required = false, onDone, onSignOut, onLocked }) {
  const intro = required
    ? "Your role needs a second factor. Set up an authenticator app (for example 1Password, Google Authenticator or FreeOTP) to continue."
    : "Use an authenticator app (for example 1Password, Google Authenticator or FreeOTP) as your second factor.";
  const signOut = onSignOut
    ? h("p", { class: "muted small" }, h("button", { type: "button", class: "quiet", onclick: onSignOut }, "Sign out"))
    : null;
  const slot = h("div", {});
  root.replaceChildren(card(replacing ? "Replace your authenticator app" : "Set up two-step sign-in", h("p", {}, intro), slot, signOut));

  async function start(code) {
    const body = code ? { code } : {};
    showSecret(await api("/api/auth/second-factor/totp", { method: "POST", body }));
  }

  function showSecret(enrolment) {
    const { form, focus } = codeForm({
      label: "Code from the app",
      hint: "Scan the QR code (or type the key), then enter the code the app shows.",
      button: "Turn on",
      send: async (code) => {
        const done = await api("/api/auth/second-factor/totp/confirm", { method: "POST", body: { code } });
        showRecoveryCodes(done);
      },
      onLocked,
    });
    slot.replaceChildren(
      h("img", { class: "qr", src: enrolment.qr_svg_url, alt: "QR code of the authenticator key", width: 200, height: 200, "data-testid": "totp-qr" }),
      h("p", { class: "small" }, "Or type this key: ", h("code", { "data-testid": "totp-secret" }, enrolment.secret)),
      form,
    );
    focus();
  }

  function showRecoveryCodes(done) {
    const next = h("button", { type: "button", class: "primary wide", onclick: () => onDone(done.session) }, "I have saved them: continue");
    slot.replaceChildren(
      h("p", { class: "notice", role: "status" }, "Two-step sign-in is on."),
      h("p", {}, "Recovery codes: each works once, in place of a code, if you lose the app. Save them somewhere safe: they are not shown again."),
      h("ul", { class: "codes", "data-testid": "recovery-codes" }, done.recovery_codes.map((c) => h("li", {}, h("code", {}, c)))),
      next,
    );
    next.focus();
  }

  if (replacing) {
    const { form, focus } = codeForm({
      label: "Current code",
      hint: "A code from your current app, or a recovery code.",
      button: "Continue",
      send: start,
      onLocked,
    });
    slot.replaceChildren(form);
    focus();
  } else {
    start().catch((error) => slot.replaceChildren(h("p", { class: "alert", role: "alert" }, error.message)));
  }
}

// The #/second-factor screen: the state of this account, and replacing the app.
export async function secondFactorView(screen, ctx) {
  const status = await api("/api/auth/second-factor");
  const body = h("div", {});
  const replace = h(
    "button",
    {
      type: "button",
      onclick: () =>
        enrolView(body, {
          replacing: status.enrolled,
          onLocked: (message) => ctx.signOut(message),
          onDone: async () => ctx.reload(),
        }),
    },
    status.enrolled ? "Replace authenticator app" : "Set up authenticator app",
  );
  screen.replaceChildren(
    h("h1", { tabindex: "-1" }, "Two-step sign-in"),
    h(
      "div",
      { class: "card" },
      h("p", { "data-testid": "second-factor-state" }, status.enrolled ? "An authenticator app is set up." : "No authenticator app is set up."),
      status.enrolled ? h("p", { class: "muted" }, `Recovery codes left: ${status.recovery_codes_left}. This session signed in with ${status.method}.`) : null,
      replace,
      body,
    ),
  );
}
