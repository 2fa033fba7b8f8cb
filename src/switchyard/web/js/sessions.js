// The sessions sidebar: every hosted agent's sessions, newest first, filtered by the search
// box: at once by title, id and agent, and (after a short pause in typing) by what was said,
// through the server's full-text search (/api/search/sessions, per agent, the caller's own
// sessions only); open, rename, fork, delete.
import { api, query } from "./api.js";
import { icon } from "./icons.js";
import { el } from "./render.js";

export class SessionList {
  constructor({ list, search, onOpen, onChanged, onError }) {
    this.list = list;
    this.search = search;
    this.onOpen = onOpen;
    this.onChanged = onChanged;
    this.onError = onError;
    this.sessions = [];
    this.agents = [];
    this.activeKey = "";
    this.contentHits = new Map();   // "agent/session" -> the matching excerpt (HTML, <mark>s)
    this.searched = "";             // the words contentHits answers
    this.searchTimer = null;
    search.addEventListener("input", () => {
      this.render();
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.searchContent(), 250);
    });
  }

  async searchContent() {
    const needle = this.search.value.trim();
    if (needle.length < 2) { this.contentHits = new Map(); this.searched = ""; this.render(); return; }
    const hits = new Map();
    try {
      const answers = await Promise.all(this.agents.map((a) =>
        api(`/api/search/sessions${query({ q: needle, agentId: a.id, limit: 50 })}`)
          .then((r) => r.results.map((h) => [`${a.id}/${h.sessionId}`, h.firstMatch ? h.firstMatch.snippet : ""]))));
      for (const [key, snippet] of answers.flat()) hits.set(key, snippet);
    } catch (err) {
      this.onError(err, { quiet: true });
      return;
    }
    if (this.search.value.trim() !== needle) return;   // the user typed on: a newer search follows
    this.contentHits = hits;
    this.searched = needle;
    this.render();
  }

  async load(agents) {
    this.agents = agents;
    const lists = await Promise.all(agents.map((a) =>
      api(`/api/sessions${query({ agentId: a.id })}`).then((r) => r.sessions.map((s) => ({ ...s, agentId: s.agentId || a.id })))));
    this.sessions = lists.flat().sort((a, b) => (b.lastActivity || 0) - (a.lastActivity || 0));
    this.render();
  }

  setActive(agentId, sessionId) {
    this.activeKey = sessionId ? `${agentId}/${sessionId}` : "";
    for (const item of this.list.children) item.classList.toggle("active", item.dataset.key === this.activeKey);
  }

  find(agentId, sessionId) {
    return this.sessions.find((s) => s.id === sessionId && s.agentId === agentId);
  }

  render() {
    const needle = this.search.value.trim().toLowerCase();
    const byContent = this.searched.toLowerCase() === needle ? this.contentHits : new Map();
    const shown = this.sessions.filter((s) => !needle || byContent.has(`${s.agentId}/${s.id}`) ||
      [s.title, s.id, s.agentId].some((v) => v && String(v).toLowerCase().includes(needle)));
    const many = this.agents.length > 1;
    this.list.replaceChildren(...shown.map((s) => this.item(s, many, byContent.get(`${s.agentId}/${s.id}`))));
    if (!shown.length) {
      this.list.append(el("li", { className: "empty", textContent: needle ? "No session matches." : "No sessions yet." }));
    }
  }

  item(s, many, snippet) {
    const key = `${s.agentId}/${s.id}`;
    const open = el("button", { type: "button", className: "session-open", title: s.id },
      el("span", { className: "session-title", textContent: s.title || s.id }),
      el("span", { className: "session-sub", textContent:
        [many ? s.agentId : "", `${s.messageCount} messages`, when(s.lastActivity)].filter(Boolean).join(" · ") }));
    if (snippet) open.append(el("span", { className: "session-snippet" }, ...markedExcerpt(snippet)));
    open.addEventListener("click", () => this.onOpen(s.agentId, s.id));
    const actions = el("div", { className: "session-actions" },
      this.action("Rename", "edit", () => this.rename(s)),
      this.action("Fork", "fork", () => this.fork(s)),
      this.action("Delete", "trash", () => this.remove(s)));
    return el("li", { className: `session${key === this.activeKey ? " active" : ""}`, dataset: { key } }, open, actions);
  }

  action(label, glyph, handler) {
    const button = el("button", { type: "button", className: "icon small", title: label, ariaLabel: label }, icon(glyph));
    button.addEventListener("click", async () => {
      try { await handler(); } catch (err) { this.onError(err); }
    });
    return button;
  }

  async rename(s) {
    const title = prompt("Rename the session", s.title || s.id);
    if (!title || !title.trim()) return;
    await api(`/api/sessions/${encodeURIComponent(s.id)}${query({ agentId: s.agentId })}`,
      { method: "PATCH", body: { title: title.trim().slice(0, 120) } });
    await this.onChanged();
  }

  async fork(s) {
    const r = await api(`/api/sessions/${encodeURIComponent(s.id)}/fork${query({ agentId: s.agentId })}`, { method: "POST" });
    await this.onChanged();
    this.onOpen(s.agentId, r.session.id);
  }

  async remove(s) {
    if (!confirm(`Delete "${s.title || s.id}" and its history?`)) return;
    await api(`/api/sessions/${encodeURIComponent(s.id)}${query({ agentId: s.agentId })}`, { method: "DELETE" });
    await this.onChanged({ deleted: `${s.agentId}/${s.id}` });
  }
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', "#x27": "'", "#39": "'" };

// The server's excerpt is HTML-escaped text with <mark> around the matches: rebuild it as text
// nodes and <mark> elements (never parsed as HTML, so nothing in a message can become markup).
function markedExcerpt(snippet) {
  const parts = [];
  const decode = (t) => t.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (_, e) => ENTITIES[e]);
  snippet.split(/(<mark>.*?<\/mark>)/g).forEach((piece) => {
    const m = /^<mark>(.*)<\/mark>$/.exec(piece);
    if (m) parts.push(el("mark", { textContent: decode(m[1]) }));
    else if (piece) parts.push(document.createTextNode(decode(piece)));
  });
  return parts;
}

function when(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString();
}
