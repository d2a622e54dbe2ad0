// The loader: all a page downloads before the reader acts (budget: 2 KB gzipped).
// At load it only adds listeners, fills the footer hint and retries unsent reports;
// the dialog lives in copydesk-dialog.js, fetched on the first reader action.
import { OUTBOX } from "./common.js";

const script = document.currentScript || document.querySelector('script[src$="copydesk.js"]');

const HINTS = {
  en: {
    hint: "If you find an error, please select a piece of text and press Ctrl + Enter",
    hintTap: "If you find an error, please select a piece of text and tap “Report an error”",
  },
  ru: {
    hint: "Если вы нашли ошибку, выделите фрагмент текста и нажмите Ctrl + Enter",
    hintTap: "Если вы нашли ошибку, выделите фрагмент текста и нажмите «Сообщить об ошибке»",
  },
};
const ARTICLE_ROOTS = ["[data-copydesk-root]", "[itemprop=articleBody]", "article", "main"];

const normalizeSpace = (text) => text.replace(/[\u200b-\u200d\u2060\ufeff\u00ad]/g, "").replace(/\s+/g, " ");

// Typing in the page's own fields (or our dialog) is never a report.
const isField = (element) =>
  element &&
  element.closest &&
  (element.isContentEditable || element.closest("input,textarea,select,copydesk-dialog,copydesk-button"));

// The selection and the whole article text around it; the dialog trims the context to the site's limit.
function captureSelection() {
  const selection = window.getSelection();
  if (!selection || !selection.rangeCount) return { exact_: "" };
  const range = selection.getRangeAt(0);
  let node = range.commonAncestorContainer;
  if (node.nodeType != 1) node = node.parentNode;
  if (isField(node)) return null;
  let root = document.body;
  for (const selector of [widget.options_.root].concat(ARTICLE_ROOTS)) {
    try {
      if (selector && (root = node.closest(selector))) break;
    } catch (_) {}
    root = document.body;
  }
  // Text before, inside and after the range, read across element boundaries.
  const parts = ["", "", ""];
  let part = 0;
  const walk = (node) => {
    if (node.nodeType == 3) {
      const text = node.data;
      let from = 0;
      if (node == range.startContainer) parts[(part = 1) - 1] += text.slice(0, (from = range.startOffset));
      if (node == range.endContainer) (parts[part] += text.slice(from, range.endOffset)), (from = range.endOffset), (part = 2);
      parts[part] += text.slice(from);
    } else if (node.nodeType == 1) {
      // The page's own CSS says what is a block (p, li, td, a div made flex…) and what is not shown.
      const display = node.tagName == "BR" ? "" : getComputedStyle(node).display;
      if (display == "none" || /^(TEXTAREA|SELECT)$/.test(node.tagName)) return;
      const block = !/^(inline|contents)/.test(display);
      if (block) parts[part] += " ";
      for (let index = 0, child = node.firstChild; ; child = child.nextSibling, index++) {
        if (node == range.startContainer && index == range.startOffset) part = 1;
        if (node == range.endContainer && index == range.endOffset) part = 2;
        if (!child) break;
        walk(child);
      }
      if (block) parts[part] += " ";
    }
  };
  walk(root);
  const exact = normalizeSpace(parts[1]);
  // Spaces at the edges of the selection belong to the context, so offsets match the page text.
  const before = normalizeSpace(parts[0] + (exact[0] == " " ? " " : ""));
  return {
    exact_: exact.trim(),
    textBefore_: before,
    textAfter_: normalizeSpace((exact.slice(-1) == " " ? " " : "") + parts[2]),
    position_: before.trimStart().length,
    range_: range,
    root_: root,
  };
}

let dialog;
let waiting;
// The dialog chunk is a plain <script src> from the desk, so `script-src <desk>` allows it.
function withDialog(then) {
  if (dialog) return then(dialog);
  if (!waiting) {
    waiting = [];
    const chunk = document.createElement("script");
    chunk.src = new URL("copydesk-dialog.js" + new URL(script.src).search, script.src).href;
    chunk.widget_ = widget;
    chunk.onload = chunk.onerror = () => {
      chunk.remove();
      if (!dialog) waiting = 0;
    };
    document.head.appendChild(chunk);
  }
  waiting.push(then);
}

// A reader acts: the site's language and limits are asked for alongside the dialog code
// (an error answer carries neither, so the dialog falls back to its defaults).
function forReader(then) {
  widget.siteSettings_ =
    widget.siteSettings_ ||
    fetch(`${widget.endpoint_}/api/v1/sites/${encodeURIComponent(widget.options_.site)}/widget-config`, {
      credentials: "omit",
    })
      .then((response) => response.json())
      .catch(() => 0);
  withDialog(then);
}

function sendUnsent() {
  try {
    if (localStorage.getItem(OUTBOX)) withDialog((loaded) => loaded.flush_());
  } catch (_) {}
}

const widget = script && {
  options_: script.dataset,
  endpoint_: (script.dataset.endpoint || new URL(script.src).origin).replace(/\/+$/, ""),
  mac_: /mac|iphone|ipad/i.test((navigator.userAgentData || {}).platform || navigator.platform),
  // The hint and the dialog choose their language and texts here, the same way.
  // data-lang, else the page's <html lang>, else the site's language from the desk; Russian or English.
  languageOf_: (siteLanguage) =>
    /^ru([-_]|$)/i.test(widget.options_.lang || document.documentElement.lang || siteLanguage || "") ? "ru" : "en",
  // data-text-<name> overrides the built-in text <name> (data-text-hint-tap -> dataset.textHintTap);
  // Mac readers press Cmd where the text says Ctrl.
  textOf_: (texts, language, name) => {
    const text = widget.options_["text" + name[0].toUpperCase() + name.slice(1)] || texts[language][name];
    return widget.mac_ ? text.replace(/Ctrl/g, "Cmd") : text;
  },
  dialogLoaded_: (loaded) => {
    dialog = loaded;
    waiting.forEach((then) => then(loaded));
  },
};

if (widget) {
  const fillHint = () => {
    const hint = widget.textOf_(HINTS, widget.languageOf_(), matchMedia("(pointer: coarse)").matches ? "hintTap" : "hint");
    document.querySelectorAll("[data-copydesk-hint]").forEach((element) => (element.textContent = hint));
  };
  document.readyState == "loading" ? document.addEventListener("DOMContentLoaded", fillHint) : fillHint();

  window.addEventListener(
    "keydown",
    (event) => {
      if (event.key == "Enter" && (widget.mac_ ? event.metaKey : event.ctrlKey) && !isField(event.target)) {
        const captured = captureSelection();
        const back = document.activeElement;
        if (captured) event.preventDefault(), forReader((loaded) => loaded.open_(captured, back));
      }
    },
    true
  );

  // Touch readers get a button near the selection; a touch laptop keeps Ctrl+Enter as well.
  let touch;
  let settling;
  window.addEventListener("pointerdown", (event) => (touch = event.pointerType == "touch"), true);
  window.addEventListener("touchstart", () => (touch = true), { capture: true, passive: true });
  document.addEventListener("selectionchange", () => {
    clearTimeout(settling);
    settling = setTimeout(() => {
      if (!touch) return;
      const captured = captureSelection();
      if ((captured && captured.exact_) || dialog) forReader((loaded) => loaded.tap_(captured));
    }, 400);
  });

  sendUnsent();
  window.addEventListener("online", sendUnsent);
}
