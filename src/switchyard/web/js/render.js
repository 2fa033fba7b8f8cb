// Everything model- or user-written goes through here: markdown (marked) into HTML that
// DOMPurify sanitises, then code highlighting (highlight.js) and copy buttons. Raw HTML in a
// message is escaped, so a message can never run script or load anything.
/* global DOMPurify, marked, hljs */

const SAFE_URL = /^(https?:|mailto:|#|\/(?!\/))/i;

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    const href = node.getAttribute("href") || "";
    if (!SAFE_URL.test(href.trim())) node.removeAttribute("href");
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
  if (node.tagName === "IMG") {
    // Only inline images: a remote image would be a request to a third party.
    const src = node.getAttribute("src") || "";
    if (!/^data:image\/(png|jpeg|gif|webp);/i.test(src)) node.removeAttribute("src");
  }
});

const renderer = {
  // Raw HTML in markdown is shown as text, not interpreted.
  html({ text }) {
    return escapeHtml(text);
  },
};
marked.use({ renderer, gfm: true, breaks: true });

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Markdown -> a sanitised fragment with highlighted code blocks and copy buttons.
export function markdown(text) {
  const html = DOMPurify.sanitize(marked.parse(String(text ?? "")), {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
    FORBID_ATTR: ["style"],
    RETURN_DOM_FRAGMENT: true,
  });
  for (const code of html.querySelectorAll("pre > code")) {
    try { hljs.highlightElement(code); } catch { /* unknown language: left plain */ }
    const pre = code.parentElement;
    const wrap = document.createElement("div");
    wrap.className = "code-block";
    pre.replaceWith(wrap);
    wrap.append(copyButton(() => code.textContent), pre);
  }
  return html;
}

export function copyButton(text, label = "Copy") {
  const button = el("button", { className: "copy", type: "button", textContent: label, ariaLabel: "Copy code" });
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}

// A DOM element from properties and children: text only (a property that sets HTML is refused;
// markup comes only from markdown() above, sanitised).
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (/HTML$/.test(k) || /^on/.test(k)) throw new Error(`el(): refusing to set ${k}`);
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "ariaLabel") node.setAttribute("aria-label", v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function pretty(value) {
  if (typeof value === "string") {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
  }
  try { return JSON.stringify(value, null, 2); } catch { return String(value); }
}
