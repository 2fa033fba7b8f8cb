// One open conversation: its history, the run in flight (streamed over SSE), re-attaching to
// a running turn after a reload, pending approvals, stop and retry.
import { api, query, stream } from "./api.js";
import { AssistantMessage, historyNodes, userMessage } from "./chat.js";
import { el } from "./render.js";

const HISTORY_PAGE = 200;   // stored messages rendered at first; older ones on demand

export class Conversation {
  constructor({ view, onSession, onRunState, onError }) {
    this.view = view;
    this.onSession = onSession;       // (agentId, sessionId) when a run names its session
    this.onRunState = onRunState;     // (running: boolean)
    this.onError = onError;
    this.agentId = "";
    this.sessionId = "";
    this.controller = null;
    this.lastContent = null;
    this.lastAgentChoice = "";
    this.approve = (id, status, remember) => api(`/api/approvals/${encodeURIComponent(id)}${query({ agentId: this.agentId })}`,
      { method: "POST", body: { status, ...(remember ? { rememberChoice: true } : {}) } });
  }

  get running() { return this.controller !== null; }

  clear(agentId) {
    this.abort();
    this.agentId = agentId;
    this.sessionId = "";
    this.liveMessage = null;
    this.view.replaceChildren();
  }

  abort() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  showGreeting(text, agentName) {
    if (this.view.children.length) return;
    if (!text) {
      this.view.append(el("div", { className: "empty-state" },
        el("p", { className: "empty-title", textContent: `Chat with ${agentName || "the agent"}` }),
        el("p", { textContent: "Enter sends, Shift+Enter starts a new line, Esc stops a reply." })));
      return;
    }
    const msg = new AssistantMessage();
    msg.text = text;
    msg.render();
    msg.node.classList.add("greeting");
    this.view.append(msg.node);
  }

  async open(agentId, sessionId) {
    this.clear(agentId);
    this.sessionId = sessionId;
    const q = query({ agentId });
    const { history, isBusy } = await api(`/api/sessions/${encodeURIComponent(sessionId)}/history${q}`);
    if (this.sessionId !== sessionId) return;   // another session was opened meanwhile
    this.renderHistory(history);
    if (isBusy) this.attach();
    const { approvals } = await api(`/api/approvals${query({ sessionId, agentId })}`);
    if (approvals.length) {
      // Pending after a reload: shown on the last answer (or a new one), still answerable.
      const msg = this.lastAssistant() || this.newAssistant();
      for (const a of approvals) if (!this.hasApproval(a.approvalId)) msg.approval(a, { restored: true });
    }
    this.scroll(true);
  }

  // Only the latest messages are turned into nodes (markdown, highlighting) at first: a long
  // session opens as fast as a short one, and the rest is built when asked for. The cut is
  // at a user message, so that an answer and its tool calls stay together.
  renderHistory(history) {
    const options = { onApprove: this.approve };
    let cut = Math.max(0, history.length - HISTORY_PAGE);
    while (cut > 0 && history[cut].role !== "user") cut -= 1;
    const recent = historyNodes(history.slice(cut), options);
    if (cut > 0) {
      const more = el("button", { type: "button", className: "more", textContent: `Show ${cut} earlier messages` });
      more.addEventListener("click", () => { more.replaceWith(...historyNodes(history.slice(0, cut), options)); });
      this.view.replaceChildren(more, ...recent);
    } else {
      this.view.replaceChildren(...recent);
    }
  }

  hasApproval(id) {
    return Boolean(this.view.querySelector(`.approval[data-approval-id="${CSS.escape(id)}"]`));
  }

  lastAssistant() { return this.liveMessage || null; }

  newAssistant() {
    const msg = new AssistantMessage({ onApprove: this.approve });
    this.view.append(msg.node);
    this.liveMessage = msg;
    return msg;
  }

  scroll(force = false) {
    const v = this.view;
    if (force || v.scrollHeight - v.scrollTop - v.clientHeight < 120) v.scrollTop = v.scrollHeight;
  }

  async send(content, agentChoice) {
    if (this.running) return;
    this.lastContent = content;
    this.lastAgentChoice = agentChoice;
    this.view.querySelector(".greeting, .empty-state")?.remove();
    this.view.querySelectorAll(".retry").forEach((b) => b.remove());
    this.view.append(userMessage(content));
    const body = { content, agentId: agentChoice || undefined, sessionId: this.sessionId || undefined };
    await this.follow("/api/message-stream", { method: "POST", body });
  }

  retry() {
    if (this.lastContent !== null) this.send(this.lastContent, this.lastAgentChoice);
  }

  attach() {
    return this.follow(`/api/sessions/${encodeURIComponent(this.sessionId)}/events${query({ agentId: this.agentId })}`,
      { method: "GET" });
  }

  async follow(path, { method, body }) {
    const msg = this.newAssistant();
    msg.thinking(true);
    const controller = new AbortController();
    this.controller = controller;
    this.onRunState(true);
    this.scroll(true);
    let failed = false;
    try {
      const busy = await stream(path, { method, body, signal: controller.signal, onEvent: (n, d) => this.event(msg, n, d) });
      if (busy && busy.busy) {
        msg.node.remove();
        this.controller = null;
        return this.attach();
      }
    } catch (err) {
      if (err.name !== "AbortError") { failed = true; msg.error(err.message); this.onError(err, { quiet: true }); }
    } finally {
      if (this.controller === controller) this.controller = null;
      msg.thinking(false);
      this.onRunState(this.running);
    }
    if ((failed || msg.failed || msg.stopped) && this.lastContent !== null) this.addRetry(msg);
    return null;
  }

  addRetry(msg) {
    const retry = el("button", { type: "button", className: "retry", textContent: "↻ Retry" });
    retry.addEventListener("click", () => this.retry());
    msg.node.append(retry);
  }

  event(msg, name, d) {
    if (d.sessionId && d.sessionId !== this.sessionId && name !== "routing:decision") {
      this.sessionId = d.sessionId;
      this.onSession(this.agentId, d.sessionId);
    }
    switch (name) {
      case "routing:decision":
        msg.routing(d);
        this.agentId = d.agentId;
        if (d.sessionId) { this.sessionId = d.sessionId; this.onSession(this.agentId, d.sessionId); }
        break;
      case "llm:thinking": msg.thinking(true); break;
      case "llm:chunk":
        if (d.chunkType === "reasoning") msg.reasoning(d.content || "");
        else { msg.thinking(false); msg.chunk(d.content || ""); }
        break;
      case "llm:tool-call": msg.thinking(false); msg.toolCall(d.callId, d.toolName, d.args); break;
      case "approval:request": if (!this.hasApproval(d.approvalId)) msg.approval(d); break;
      case "approval:response": msg.approvalAnswered(d.approvalId, d.status); break;
      case "tool:running": msg.toolRunning(d.toolCallId); break;
      case "llm:tool-result":
        msg.toolResult(d.callId, d.toolName, d.sanitized ? d.sanitized.content : (d.result ?? d.error), d.success);
        break;
      case "llm:response": msg.thinking(false); msg.response(d); break;
      case "llm:error": {
        const e = d.error || {};
        msg.failed = true;
        msg.error(`The model failed: ${e.message || d.message || "unknown error"}`);
        break;
      }
      case "run:complete":
        if (d.finishReason === "cancelled") { msg.stopped = true; msg.footer("Stopped"); }
        if (d.finishReason === "error" && !msg.failed) {
          msg.failed = true;
          msg.error(`The run failed: ${(d.error && d.error.message) || "unknown error"}`);
        }
        break;
      default: break;
    }
    this.scroll();
  }

  async stop() {
    if (!this.running) return;
    if (!this.sessionId) { this.abort(); return; }
    try {
      await api(`/api/sessions/${encodeURIComponent(this.sessionId)}/cancel${query({ agentId: this.agentId })}`, { method: "POST", body: {} });
    } catch (err) {
      this.onError(err);
      this.abort();
    }
  }
}
