// The one way the console talks to the server: same origin, session cookie, CSRF header on
// unsafe methods, and the server's error shape {"error": {"code", "message", "fields"}}
// turned into an ApiError that views can show next to the right field. (The diagnostics
// page's raw probe is in views/diagnostics.js, the export's download in views/import.js.)

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `The server answered ${status}.`);
    this.status = status;
    this.code = error.code || "error";
    this.fields = error.fields || {};
    this.detail = error;
  }
}

let onSignedOut = () => {};

// Called when a request finds the session gone (401 not_authenticated).
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return "";
}

export function url(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value != null && value !== "") params.set(key, value);
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

// An answer without our JSON error body came from the edge, not from Django: a 403 there is
// WAF blocking this address (e.g. right after removing your own network).
function edgeError(status) {
  if (status === 403) {
    return {
      code: "edge_blocked",
      message:
        "The edge blocked this request: your address is not on the allowlist (any more). " +
        "To get back in, ask another admin to add your address, or run " +
        "`manage.py allow_ip <your address> --label recovery` where Gatehouse runs " +
        "(it needs only the database and AWS credentials; see README, Break-glass).",
    };
  }
  return { code: `http_${status}` };
}

export async function api(path, { method = "GET", body, query } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers["X-CSRFToken"] = cookie("csrftoken");
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, UNREACHABLE);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw refused(response.status, data);
  return data;
}

export const UNREACHABLE = {
  code: "network",
  message: "Could not reach the server. Check your connection and try again.",
};

export function refused(status, data) {
  const error = new ApiError(status, data?.error || edgeError(status));
  if (error.code === "not_authenticated") onSignedOut();
  return error;
}
