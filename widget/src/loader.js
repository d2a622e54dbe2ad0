// The loader: all a page downloads before the reader acts (budget: 2 KB gzipped).
// At load it only adds listeners, fills the footer hint and retries unsent reports;
// the dialog lives in copydesk-dialog.js, fetched on the first reader action.
import { pickLang, OUTBOX, textOf } from "./common.js";

const d = document;
const w = window;
const me = d.currentScript || d.querySelector('script[src$="copydesk.js"]');

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
const ROOTS = ["[data-copydesk-root]", "[itemprop=articleBody]", "article", "main"];

const clean = (s) => s.replace(/[\u200b-\u200d\u2060\ufeff\u00ad]/g, "").replace(/\s+/g, " ");

// Typing in the page's own fields (or our dialog) is never a report.
const isField = (e) =>
  e && e.closest && (e.isContentEditable || e.closest("input,textarea,select,copydesk-dialog,copydesk-button"));

function capture() {
  const sel = w.getSelection();
  if (!sel || !sel.rangeCount) return { x: "" };
  const r = sel.getRangeAt(0);
  let n = r.commonAncestorContainer;
  if (n.nodeType != 1) n = n.parentNode;
  if (isField(n)) return null;
  let root = d.body;
  for (const s of [C.o.root].concat(ROOTS)) {
    try {
      if (s && (root = n.closest(s))) break;
    } catch (_) {}
    root = d.body;
  }
  // Text before, inside and after the range, read across element boundaries.
  const parts = ["", "", ""];
  let k = 0;
  const walk = (e) => {
    if (e.nodeType == 3) {
      const v = e.data;
      let a = 0;
      if (e == r.startContainer) parts[(k = 1) - 1] += v.slice(0, (a = r.startOffset));
      if (e == r.endContainer) (parts[k] += v.slice(a, r.endOffset)), (a = r.endOffset), (k = 2);
      parts[k] += v.slice(a);
    } else if (e.nodeType == 1) {
      // The page's own CSS says what is a block (p, li, td, a div made flex…) and what is not shown.
      const display = e.tagName == "BR" ? "" : getComputedStyle(e).display;
      if (display == "none" || /^(TEXTAREA|SELECT)$/.test(e.tagName)) return;
      const block = !/^(inline|contents)/.test(display);
      if (block) parts[k] += " ";
      for (let i = 0, c = e.firstChild; ; c = c.nextSibling, i++) {
        if (e == r.startContainer && i == r.startOffset) k = 1;
        if (e == r.endContainer && i == r.endOffset) k = 2;
        if (!c) break;
        walk(c);
      }
      if (block) parts[k] += " ";
    }
  };
  walk(root);
  const x = clean(parts[1]);
  // Spaces at the edges of the selection belong to the context, so offsets match the page text.
  const p = clean(parts[0] + (x[0] == " " ? " " : ""));
  const s = clean((x.slice(-1) == " " ? " " : "") + parts[2]);
  return {
    x: x.trim(),
    p: p.slice(-64).replace(/^[\udc00-\udfff]/, ""),
    s: s.slice(0, 64).replace(/[\ud800-\udbff]$/, ""),
    n: p.trimStart().length,
    r,
    root,
  };
}

let mod;
let queue;
// The dialog chunk is a plain <script src> from the desk, so `script-src <desk>` allows it.
function load(f) {
  if (mod) return f(mod);
  if (!queue) {
    queue = [];
    const s = d.createElement("script");
    s.src = new URL("copydesk-dialog.js" + new URL(me.src).search, me.src).href;
    s.cd = C;
    s.onload = s.onerror = () => {
      s.remove();
      if (!mod) queue = 0;
    };
    d.head.appendChild(s);
  }
  queue.push(f);
}

function retry() {
  try {
    if (localStorage.getItem(OUTBOX)) load((m) => m.flush());
  } catch (_) {}
}

const C = me && {
  o: me.dataset,
  E: (me.dataset.endpoint || new URL(me.src).origin).replace(/\/+$/, ""),
  mac: /mac|iphone|ipad/i.test((navigator.userAgentData || {}).platform || navigator.platform),
  f: (m) => {
    mod = m;
    queue.forEach((f) => f(m));
  },
};

if (C) {
  C.L = pickLang(C.o.lang || d.documentElement.lang);
  const fill = () => {
    const hint = textOf(C, HINTS, matchMedia("(pointer: coarse)").matches ? "hintTap" : "hint");
    d.querySelectorAll("[data-copydesk-hint]").forEach((e) => (e.textContent = hint));
  };
  d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", fill) : fill();

  w.addEventListener(
    "keydown",
    (e) => {
      if (e.key == "Enter" && (C.mac ? e.metaKey : e.ctrlKey) && !isField(e.target)) {
        const c = capture();
        const back = d.activeElement;
        if (c) e.preventDefault(), load((m) => m.open(c, back));
      }
    },
    true
  );

  // Touch readers get a button near the selection; a touch laptop keeps Ctrl+Enter as well.
  let touch;
  let timer;
  w.addEventListener("pointerdown", (e) => (touch = e.pointerType == "touch"), true);
  w.addEventListener("touchstart", () => (touch = true), { capture: true, passive: true });
  d.addEventListener("selectionchange", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!touch) return;
      const c = capture();
      if ((c && c.x) || mod) load((m) => m.tap(c));
    }, 400);
  });

  retry();
  w.addEventListener("online", retry);
}
