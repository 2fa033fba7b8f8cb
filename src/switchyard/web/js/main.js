// The page: the key prompt, agents and models, the sessions sidebar, the composer.
import { api, ApiError, auth, query } from "./api.js";
import { Conversation } from "./conversation.js";
import { SessionList } from "./sessions.js";
import { decorate, icon } from "./icons.js";
import { el } from "./render.js";

const $ = (id) => document.getElementById(id);
const state = { agents: [], defaultAgent: "", attachments: [] };

const conversation = new Conversation({
  view: $("messages"),
  onSession: (agentId, sessionId) => {
    setHash(agentId, sessionId);
    refreshSessions().then(() => sessions.setActive(agentId, sessionId));
  },
  onRunState: (running) => {
    $("send").hidden = running;
    $("stop").hidden = !running;
    if (!running) refreshSessions();
  },
  onError: (err, opts) => report(err, opts),
});

const sessions = new SessionList({
  list: $("session-list"),
  search: $("session-search"),
  onOpen: (agentId, id) => openSession(agentId, id),
  onChanged: async (change) => {
    await refreshSessions();
    if (change && change.deleted === `${conversation.agentId}/${conversation.sessionId}`) newChat();
  },
  onError: (err) => report(err),
});

// --- errors and the key ----------------------------------------------------------------------

function banner(text, kind = "error") {
  const b = $("banner");
  b.textContent = text;
  b.className = `banner ${kind}`;
  b.hidden = !text;
}

function report(err, { quiet = false } = {}) {
  if (err instanceof ApiError && err.status === 401) return askForKey(auth.key ? "That key was not accepted. Check it and try again." : "This server needs an API key.");
  if (err instanceof ApiError && err.status === 403 && err.requiredScope) {
    return banner(`Your API key lacks the '${err.requiredScope}' scope needed for this. Ask for a key with it, or change key.`);
  }
  if (!quiet) banner(err.message || String(err));
  return null;
}

function askForKey(reason) {
  const dialog = $("auth-dialog");
  $("auth-reason").textContent = reason;
  $("auth-key").value = "";
  if (!dialog.open) dialog.showModal();
  $("auth-key").focus();
}

$("auth-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("auth-key").value.trim();
  if (!key) return;
  auth.set(key, $("auth-remember").checked);
  $("auth-dialog").close();
  start();
});
$("key-button").addEventListener("click", () => askForKey("Use a different API key (kept in this browser only)."));
$("forget-key").addEventListener("click", () => { auth.clear(); $("auth-dialog").close(); start(); });

// --- agents, greeting, model -------------------------------------------------------------------

function agentChoice() { return $("agent-select").value; }

function currentAgent() {
  // An open session is its own agent's (the picker may show another, or "auto").
  if (conversation.sessionId && conversation.agentId) return conversation.agentId;
  const choice = agentChoice();
  return choice === "auto" ? (conversation.agentId || state.defaultAgent) : choice;
}

async function loadAgents() {
  const r = await api("/api/agents");
  state.agents = r.agents;
  state.defaultAgent = r.current.id;
  const select = $("agent-select");
  const previous = select.value;
  const options = r.agents.map((a) => el("option", { value: a.id, textContent: a.name || a.id, title: a.description || "" }));
  if (r.agents.length > 1) options.unshift(el("option", { value: "auto", textContent: "auto (router)" }));
  select.replaceChildren(...options);
  // The default agent unless the user chose otherwise: "auto" is a choice, not a default.
  select.value = [...select.options].some((o) => o.value === previous) ? previous : r.current.id;
  $("agent-field").hidden = r.agents.length < 2;
}

async function showModel() {
  const agentId = currentAgent();
  const q = query({ agentId, sessionId: conversation.sessionId });
  const [{ config }, catalog] = await Promise.all([api(`/api/llm/current${q}`), api("/api/llm/catalog?mode=flat").catch(() => ({ models: [] }))]);
  const select = $("model-select");
  const current = `${config.provider}/${config.model}`;
  const options = [el("option", { value: current, textContent: config.displayName || `${config.provider} · ${config.model}` })];
  for (const m of catalog.models || []) {
    const value = `${m.provider}/${m.name}`;
    if (value !== current) options.push(el("option", { value, textContent: `${m.provider} · ${m.displayName || m.name}` }));
  }
  select.replaceChildren(...options);
  select.value = current;
  select.dataset.current = current;
}

$("model-select").addEventListener("change", async (event) => {
  const select = event.target;
  const [provider, ...rest] = select.value.split("/");
  try {
    await api("/api/llm/switch", { method: "POST", body: { provider, model: rest.join("/"), agentId: currentAgent(), sessionId: conversation.sessionId || undefined } });
    banner("");
    await showModel();
  } catch (err) {
    select.value = select.dataset.current;
    report(err);
  }
});

async function showGreeting() {
  const agentId = currentAgent();
  const { greeting } = await api(`/api/greeting${query({ agentId })}`);
  const agent = state.agents.find((a) => a.id === agentId);
  conversation.showGreeting(greeting, agentChoice() === "auto" ? "the best-suited agent (auto)" : agent && (agent.name || agent.id));
}

$("agent-select").addEventListener("change", () => { newChat(); });

// --- sessions ----------------------------------------------------------------------------------

function setHash(agentId, sessionId) {
  const hash = sessionId ? `#/${encodeURIComponent(agentId)}/${encodeURIComponent(sessionId)}` : "";
  if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname);
}

function fromHash() {
  const m = /^#\/([^/]+)\/([^/]+)$/.exec(location.hash);
  return m ? [decodeURIComponent(m[1]), decodeURIComponent(m[2])] : null;
}

async function refreshSessions() {
  try { await sessions.load(state.agents); } catch (err) { report(err); return; }
  const open = sessions.find(conversation.agentId, conversation.sessionId);
  if (open) $("session-title").textContent = open.title || open.id;
}

async function openSession(agentId, id) {
  closeSidebar();
  setHash(agentId, id);
  sessions.setActive(agentId, id);
  const s = sessions.find(agentId, id);
  $("session-title").textContent = s ? (s.title || s.id) : id;
  try {
    await conversation.open(agentId, id);
    await showModel();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) { banner("That session no longer exists."); newChat(); return; }
    report(err);
  }
  $("input").focus();
}

function newChat() {
  closeSidebar();
  conversation.clear(agentChoice() === "auto" ? state.defaultAgent : agentChoice());
  setHash("", "");
  sessions.setActive("", "");
  $("session-title").textContent = "New chat";
  const shown = Promise.all([showGreeting().catch(report), showModel().catch(report)]);
  $("input").focus();
  return shown;
}

$("new-chat").addEventListener("click", newChat);
// A link to a session (#/agent/session) opens it; the page's own updates use replaceState.
window.addEventListener("hashchange", () => {
  const target = fromHash();
  if (target && `${target[0]}/${target[1]}` !== `${conversation.agentId}/${conversation.sessionId}`) openSession(...target);
});

// --- composer ----------------------------------------------------------------------------------

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const data = String(reader.result).split(",", 2)[1] || "";
      const mimeType = file.type || "application/octet-stream";
      resolve(mimeType.startsWith("image/")
        ? { type: "image", image: data, mimeType }
        : { type: "file", data, mimeType, filename: file.name });
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function renderAttachments() {
  $("attachments").replaceChildren(...state.attachments.map((a, i) => {
    const remove = el("button", { type: "button", className: "icon small", ariaLabel: `Remove ${a.name}`, textContent: "×" });
    remove.addEventListener("click", () => { state.attachments.splice(i, 1); renderAttachments(); });
    return el("span", { className: "chip" }, a.name, remove);
  }));
}

$("attach").addEventListener("click", () => $("file-input").click());
$("file-input").addEventListener("change", async (event) => {
  for (const file of event.target.files) {
    try { state.attachments.push({ name: file.name, part: await readFile(file) }); } catch (err) { report(err); }
  }
  event.target.value = "";
  renderAttachments();
});

async function submit() {
  const text = $("input").value.trim();
  if ((!text && !state.attachments.length) || conversation.running) return;
  const parts = state.attachments.map((a) => a.part);
  const content = parts.length ? [...(text ? [{ type: "text", text }] : []), ...parts] : text;
  $("input").value = "";
  autosize();
  state.attachments = [];
  renderAttachments();
  banner("");
  await conversation.send(content, agentChoice());
}

function autosize() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
}

$("composer").addEventListener("submit", (event) => { event.preventDefault(); submit(); });
$("input").addEventListener("input", autosize);
$("input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
});
$("stop").addEventListener("click", () => conversation.stop());
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && conversation.running) conversation.stop();
});

// --- layout: the sidebar on small screens, the theme -------------------------------------------

function closeSidebar() {
  document.body.classList.remove("sidebar-open");
  $("menu").setAttribute("aria-expanded", "false");
}
document.querySelector(".scrim").addEventListener("click", closeSidebar);
$("menu").addEventListener("click", () => {
  const open = document.body.classList.toggle("sidebar-open");
  $("menu").setAttribute("aria-expanded", String(open));
  if (open) $("session-search").focus();
});

const THEMES = ["auto", "light", "dark"];
function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const dark = theme === "dark" || (theme === "auto" && matchMedia("(prefers-color-scheme: dark)").matches);
  $("hljs-dark").disabled = !dark;
  $("hljs-light").disabled = dark;
  $("theme").replaceChildren(icon("theme"), el("span", { className: "theme-name", textContent: theme }));
  $("theme").setAttribute("aria-label", `Theme: ${theme}`);
  $("theme").title = `Theme: ${theme}`;
}
$("theme").addEventListener("click", () => {
  const next = THEMES[(THEMES.indexOf(document.documentElement.dataset.theme) + 1) % THEMES.length];
  localStorage.setItem("switchyard.theme", next);
  applyTheme(next);
});
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(document.documentElement.dataset.theme));
applyTheme(localStorage.getItem("switchyard.theme") || "auto");

decorate();

// --- start -------------------------------------------------------------------------------------

async function start() {
  banner("");
  try {
    await loadAgents();
  } catch (err) {
    report(err);
    return;
  }
  // "ready" (which the browser tests wait for) once the page shows its sessions, the open
  // conversation or the greeting, and the model.
  try {
    await refreshSessions();
    const target = fromHash();
    if (target) await openSession(...target);
    else await newChat();
  } finally {
    document.body.classList.add("ready");
  }
}

start();
