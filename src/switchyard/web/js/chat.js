// The conversation view: user and assistant messages, tool calls (collapsed, with their
// arguments and result), inline approvals, the router's decision, errors. Text from the
// model or the user is only ever set as text, or as markdown through render.js.
import { icon } from "./icons.js";
import { el, markdown, pretty } from "./render.js";

export function textOf(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.filter((p) => p && p.type === "text").map((p) => p.text).join("\n");
  if (Array.isArray(content.content)) return textOf(content.content);
  return pretty(content);
}

function attachmentsOf(content) {
  if (!Array.isArray(content)) return [];
  return content.filter((p) => p && (p.type === "image" || p.type === "file")).map((p) => {
    if (p.type === "image") {
      const src = String(p.image || "");
      const url = src.startsWith("data:") ? src : `data:${p.mimeType || "image/png"};base64,${src}`;
      return /^data:image\/(png|jpeg|gif|webp);base64,/i.test(url)
        ? el("img", { className: "attachment-image", src: url, alt: "attached image" })
        : el("span", { className: "attachment-file", textContent: "image" });
    }
    return el("span", { className: "attachment-file", textContent: `📄 ${p.filename || p.mimeType || "file"}` });
  });
}

export function userMessage(content) {
  const body = el("div", { className: "bubble" });
  const text = textOf(content);
  if (text) body.append(el("p", { className: "plain", textContent: text }));
  const files = attachmentsOf(content);
  if (files.length) body.append(el("div", { className: "attachments" }, ...files));
  return el("article", { className: "msg user", ariaLabel: "You" }, body);
}

export class AssistantMessage {
  constructor({ onApprove } = {}) {
    this.onApprove = onApprove;
    this.text = "";
    this.tools = new Map();
    this.meta = el("div", { className: "meta" });
    this.steps = el("div", { className: "steps" });
    this.body = el("div", { className: "bubble markdown" });
    this.node = el("article", { className: "msg assistant", ariaLabel: "Assistant" },
      this.meta, this.steps, this.body);
    this.pending = false;
  }

  thinking(on) {
    this.node.classList.toggle("thinking", on);
  }

  chunk(content) {
    this.text += content;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
  }

  render() {
    this.body.replaceChildren(markdown(this.text));
  }

  // The model's reasoning, streamed into a collapsed block of its own (plain text).
  reasoning(content) {
    if (!this.reasoningText) {
      this.reasoningText = el("p", { className: "plain" });
      this.steps.append(el("details", { className: "reasoning" }, el("summary", { textContent: "Reasoning" }), this.reasoningText));
    }
    this.reasoningText.textContent += content;
  }

  // The final answer of the step (replaces the streamed text: they are the same words).
  response(data) {
    if (typeof data.content === "string" && data.content) this.text = data.content;
    this.render();
    const bits = [data.provider, data.model].filter(Boolean).join(" · ");
    const usage = data.tokenUsage && data.tokenUsage.totalTokens ? `${data.tokenUsage.totalTokens} tokens` : "";
    const line = [bits, usage].filter(Boolean).join(" · ");
    if (line) this.footer(line);
  }

  footer(text) {
    let foot = this.node.querySelector(".foot");
    if (!foot) { foot = el("div", { className: "foot" }); this.node.append(foot); }
    foot.textContent = text;
  }

  routing(decision) {
    const reasons = el("details", { className: "routing" },
      el("summary", {}, el("span", { className: "badge", textContent: `auto → ${decision.agentId}` }),
        ` ${Math.round((decision.confidence || 0) * 100)}% · ${decision.layer || ""}${decision.sticky ? " · sticky" : ""}${decision.fallback ? " · fallback" : ""}`),
      el("p", { textContent: decision.reason || "" }),
      el("ol", {}, ...(decision.ranked || []).slice(0, 5).map((r) =>
        el("li", { textContent: `${r.agentId} — ${Number(r.score || 0).toFixed(2)}${r.matched && r.matched.length ? ` (matched ${r.matched.join(", ")})` : ""}` }))));
    this.meta.append(reasons);
  }

  toolCall(callId, name, args) {
    const result = el("pre", { className: "tool-result", textContent: "…" });
    const status = el("span", { className: "tool-status", textContent: "called" });
    const card = el("details", { className: "tool", dataset: { callId: callId || "" } },
      el("summary", {}, icon("tool"), " ",
        el("code", { textContent: name || "tool" }), " ", status),
      el("div", { className: "tool-label", textContent: "Arguments" }),
      el("pre", { className: "tool-args", textContent: pretty(args ?? {}) }),
      el("div", { className: "tool-label", textContent: "Result" }), result);
    this.steps.append(card);
    this.tools.set(callId, { card, result, status });
    // Text before a tool call belongs before it.
    if (this.text) {
      this.steps.insertBefore(el("div", { className: "markdown step-text" }, markdown(this.text)), card);
      this.text = "";
      this.body.replaceChildren();
    }
    return card;
  }

  toolRunning(callId) {
    const tool = this.tools.get(callId);
    if (tool) tool.status.textContent = "running…";
  }

  toolResult(callId, name, content, success) {
    const tool = this.tools.get(callId) || this.wrapUnknown(callId, name);
    tool.result.textContent = textOf(content) || pretty(content);
    tool.status.textContent = success === false ? "failed" : "done";
    tool.card.classList.toggle("failed", success === false);
  }

  wrapUnknown(callId, name) {
    this.toolCall(callId, name, undefined);
    return this.tools.get(callId);
  }

  approval(request, { restored = false } = {}) {
    const meta = request.metadata || {};
    const remember = el("input", { type: "checkbox", className: "remember" });
    const approve = el("button", { type: "button", className: "approve primary", textContent: "Approve" });
    const deny = el("button", { type: "button", className: "deny", textContent: "Deny" });
    const state = el("span", { className: "approval-state", role: "status" });
    const card = el("div", { className: "approval", role: "group", ariaLabel: "Approval needed",
      dataset: { approvalId: request.approvalId } },
      el("div", { className: "approval-title" }, "Run ", el("code", { textContent: meta.toolName || "tool" }), "?"),
      el("pre", { className: "tool-args", textContent: pretty(meta.args ?? {}) }),
      el("div", { className: "approval-actions" }, approve, deny,
        el("label", {}, remember, " Remember for this session"), state));
    const answer = async (status) => {
      approve.disabled = deny.disabled = true;
      try {
        await this.onApprove(request.approvalId, status, remember.checked);
        this.approvalAnswered(request.approvalId, status);
      } catch (err) {
        state.textContent = err.message;
        approve.disabled = deny.disabled = false;
      }
    };
    approve.addEventListener("click", () => answer("approved"));
    deny.addEventListener("click", () => answer("denied"));
    // Right after the call it is about, when that is shown.
    const tool = this.tools.get(meta.toolCallId);
    if (tool) tool.card.after(card); else this.steps.append(card);
    if (!restored) approve.focus({ preventScroll: true });
    return card;
  }

  approvalAnswered(approvalId, status) {
    const card = this.node.querySelector(`.approval[data-approval-id="${CSS.escape(approvalId)}"]`);
    if (!card) return;
    card.classList.add("answered", status);
    card.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    card.querySelector(".approval-state").textContent = status === "approved" ? "Approved" : status === "denied" ? "Denied" : status;
  }

  error(message) {
    this.node.append(el("div", { className: "error", role: "alert", textContent: message }));
  }
}

// A stored conversation, as the history API returns it, into nodes.
export function historyNodes(history, options) {
  const nodes = [];
  let current = null;
  let routed = null;     // the router's decision kept on the user message, shown on its answer
  for (const m of history) {
    if (m.role === "user") {
      current = null;
      routed = m.routing || null;
      nodes.push(userMessage(m.content));
    } else if (m.role === "assistant") {
      if (!current) {
        current = new AssistantMessage(options);
        nodes.push(current.node);
        if (routed) current.routing(routed);
      }
      if (m.reasoning) current.steps.append(el("details", { className: "reasoning" }, el("summary", { textContent: "Reasoning" }), el("p", { textContent: m.reasoning })));
      const text = textOf(m.content);
      if (m.toolCalls && m.toolCalls.length) {
        current.text = text;
        for (const c of m.toolCalls) current.toolCall(c.id, c.function && c.function.name, c.function && c.function.arguments);
      } else {
        current.text = text;
        current.render();
        const line = [m.provider, m.model].filter(Boolean).join(" · ");
        if (line) current.footer(line);
      }
    } else if (m.role === "tool" && current) {
      current.toolResult(m.toolCallId, m.name, m.content, m.success);
    }
  }
  return nodes;
}
