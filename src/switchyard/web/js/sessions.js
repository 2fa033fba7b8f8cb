// The sessions sidebar: every hosted agent's sessions, newest first, filtered by the search
// box (title, id, agent); open, rename, fork, delete.
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
    search.addEventListener("input", () => this.render());
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
    const shown = this.sessions.filter((s) => !needle ||
      [s.title, s.id, s.agentId].some((v) => v && String(v).toLowerCase().includes(needle)));
    const many = this.agents.length > 1;
    this.list.replaceChildren(...shown.map((s) => this.item(s, many)));
    if (!shown.length) {
      this.list.append(el("li", { className: "empty", textContent: needle ? "No session matches." : "No sessions yet." }));
    }
  }

  item(s, many) {
    const key = `${s.agentId}/${s.id}`;
    const open = el("button", { type: "button", className: "session-open", title: s.id },
      el("span", { className: "session-title", textContent: s.title || s.id }),
      el("span", { className: "session-sub", textContent:
        [many ? s.agentId : "", `${s.messageCount} messages`, when(s.lastActivity)].filter(Boolean).join(" · ") }));
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

function when(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const today = new Date();
  return d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString();
}
