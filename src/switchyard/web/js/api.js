// The server's API, as the page uses it: every call carries the key (if any) in the
// Authorization header, never in a URL. Errors become ApiError with the server's code.

const KEY_NAME = "switchyard.apiKey";

export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && (body.message || body.error)) || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = (body && body.code) || "";
    // The error envelope carries it in `details` (older servers: at the top level).
    this.requiredScope = (body && ((body.details && body.details.requiredScope) || body.requiredScope)) || "";
  }
}

export const auth = {
  // Kept in the browser only: this tab (sessionStorage), or this browser when remembered.
  get key() {
    return sessionStorage.getItem(KEY_NAME) || localStorage.getItem(KEY_NAME) || "";
  },
  set(key, remember) {
    this.clear();
    (remember ? localStorage : sessionStorage).setItem(KEY_NAME, key);
  },
  clear() {
    sessionStorage.removeItem(KEY_NAME);
    localStorage.removeItem(KEY_NAME);
  },
};

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  const key = auth.key;
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function failure(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  return new ApiError(response.status, body);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

// Server-sent events over fetch (EventSource cannot send an Authorization header).
// Calls onEvent(name, data) per event; resolves when the stream ends. A JSON answer
// (202 busy) is returned instead.
export async function stream(path, { method = "POST", body, signal, onEvent }) {
  const init = { method, headers: headers({ Accept: "text/event-stream" }), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  const type = response.headers.get("content-type") || "";
  if (!type.startsWith("text/event-stream")) return response.json();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      dispatch(frame, onEvent);
    }
  }
  if (buffer.trim()) dispatch(buffer, onEvent);
  return null;
}

function dispatch(frame, onEvent) {
  let name = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (!line || line.startsWith(":")) continue;   // keep-alive comments
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return;
  let parsed;
  try { parsed = JSON.parse(data.join("\n")); } catch { parsed = { raw: data.join("\n") }; }
  onEvent(name, parsed);
}
