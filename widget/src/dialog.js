// The dialog chunk, loaded by copydesk.js when the reader selects text or acts (or to send
// unsent reports): it reads the selection, shows the touch button, the dialog and the outcome,
// and sends. It reaches the loader through its own <script> element, so it defines no global.
import { OUTBOX, isField, normalizeSpace, reportBody, wordsAfter, wordsBefore } from "./common.js";

const widget = (document.currentScript || {}).widget_;

// English built in; the reader's language loads as copydesk-dialog-<lang>.<release>.json.
const ENGLISH = __TEXTS_EN__;
// The kinds of error a reader may name, and the server's error codes -> the text each shows.
const KINDS = __KINDS__;
const CODES = __CODES__;
const RTL = /^(ar|he)$/;
const ARTICLE_ROOTS = ["[data-copydesk-root]", "[itemprop=articleBody]", "article", "main"];

// A selection (the loader's copy of the reader's range): the selected text and the whole article
// text around it, read across elements, and its position in that text; null in a field. The
// context is cut to the site's limit when the dialog opens.
function capture(range) {
  if (!range) return { exact_: "" };
  // A loader cached from the release before captures the selection itself.
  if (!(range instanceof Range)) return range;
  let node = range.commonAncestorContainer;
  if (node.nodeType != 1) node = node.parentNode;
  if (isField(node)) return null;
  let root;
  for (const selector of [widget.options_.root].concat(ARTICLE_ROOTS)) {
    try {
      if (selector && (root = node.closest(selector))) break;
    } catch (_) {}
  }
  root = root || document.body;
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

// The dialog.css text, minified by build.mjs.
const CSS = __DIALOG_CSS__;

// The desk's answer about this site ({lang, max_selection, max_context, max_comment, followup, kinds}),
// and the texts of the dialog's language, each waited for at most 3 s; {} and English without them.
// The site's limits are the rules: numbers written here are fallbacks only.
let site;
let texts;
let siteArrived;
const atMost3s = (promise) => Promise.race([promise, new Promise((done) => setTimeout(done, 3000))]);
// A loader of this release fetches (and prefetches) the texts; a loader cached from the release
// before has no texts_, and the dialog fetches them itself.
const script = document.currentScript;
const textsOf =
  (widget && widget.texts_) ||
  ((name) =>
    /en$/.test(name)
      ? Promise.resolve(0)
      : fetch(new URL(`copydesk-${name}.${__RELEASE__}.json`, script.src), { credentials: "omit" })
          .then((response) => response.ok && response.json())
          .catch(() => 0));
function withSite(then) {
  siteArrived =
    siteArrived ||
    atMost3s(widget.siteSettings_)
      .then((answer) => atMost3s(textsOf("dialog-" + widget.languageOf_((site = answer || {}).lang))))
      .then((loaded) => (texts = loaded || {}));
  siteArrived.then(then);
}

// data-lang, else the site's language, else <html lang> (see the loader); English without its texts.
const language = () => (texts.title ? widget.languageOf_(site.lang) : "en");
// data-text-<name> overrides a text; Mac readers press Cmd where the text says Ctrl (Strg in German).
const text = (name, number) => {
  const own = widget.options_["text" + name[0].toUpperCase() + name.slice(1)] || texts[name] || ENGLISH[name];
  return (widget.mac_ ? own.replace(/Ctrl|Strg/g, "Cmd") : own).replace("{n}", number);
};

// Where a sentence ends, without Intl.Segmenter: after . ! ? … and the CJK stops, and the spaces after.
const SENTENCE_END = /[.!?\u2026\u3002\uff01\uff1f]+["'\u201d\u00bb)\]]*\s+/g;
// The context before and after a selection, at most `max` characters each: the sentence around the
// selection where it fits, else cut at a word boundary. The same text always gives the same context
// (it is part of what makes two readers' reports one), so the page's language decides, not the reader's.
function context(before, exact, after, max, locale) {
  // The page's language tag where Intl takes it, else the root locale: never the reader's browser's.
  const segmenter = (granularity) => {
    try {
      return new Intl.Segmenter((locale || "").replace(/_/g, "-") || "und", { granularity });
    } catch (_) {
      return new Intl.Segmenter("und", { granularity });
    }
  };
  const near = before.slice(-500);
  const whole = near + exact + after.slice(0, 500);
  const start = near.length;
  const end = start + exact.length;
  let from = 0;
  let to = whole.length;
  const boundary = (at) => {
    if (at <= start) from = at;
    if (at >= end && to == whole.length) to = at;
  };
  try {
    for (const { index, segment } of segmenter("sentence").segment(whole))
      boundary(index), boundary(index + segment.length);
  } catch (_) {
    for (const found of whole.matchAll(SENTENCE_END)) boundary(found.index + found[0].length);
  }
  // The last `max` characters of the text before, from where a word starts; the first `max` after,
  // up to where a word ends.
  let wordsOf = (text, fromEnd) => (fromEnd ? wordsBefore(text, max) : wordsAfter(text, max));
  try {
    const words = segmenter("word");
    wordsOf = (text, fromEnd) => {
      if (text.length <= max) return text;
      let cut = fromEnd ? -1 : 0;
      // From the first whole word on; up to the end of the last whole word or mark (not a space).
      for (const { index, segment, isWordLike } of words.segment(fromEnd ? text.slice(-max - 1) : text.slice(0, max + 1))) {
        if (fromEnd && index > 0 && cut < 0 && isWordLike) cut = index;
        if (!fromEnd && index + segment.length <= max && segment.trim()) cut = index + segment.length;
      }
      // One word longer than the limit is cut where it must be.
      return fromEnd ? text.slice(cut < 0 ? -max : cut - max - 1) : text.slice(0, cut || max);
    };
  } catch (_) {}
  const sentenceBefore = start - from <= max;
  const sentenceAfter = to - end <= max;
  const prefix = sentenceBefore ? whole.slice(from, start) : wordsOf(before, 1);
  const suffix = (sentenceAfter ? whole.slice(end, to) : wordsOf(after)).replace(/\s+$/, "");
  // And whether each side is cut short of the text there (the dialog shows "…").
  return [prefix, suffix, !sentenceBefore && prefix.length < before.length, !sentenceAfter && suffix.length < after.trim().length];
}

const element = (tag, attributes, children) => {
  const created = document.createElement(tag);
  if (attributes) Object.keys(attributes).forEach((name) => created.setAttribute(name, attributes[name]));
  if (children) created.append(...children);
  return created;
};

let sheet;
// A constructable stylesheet is not subject to style-src, unlike <style> and style="".
function styledShadow(host) {
  const root = host.attachShadow({ mode: "open" });
  try {
    if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (_) {
    root.append(element("style", 0, [CSS]));
  }
  return root;
}

// Outbox entries are {e: endpoint, b: report body, t: time kept}: a stored format, so it never changes.
const outbox = (change) => {
  try {
    const box = JSON.parse(localStorage.getItem(OUTBOX)) || {};
    if (change) {
      change(box);
      Object.keys(box).length ? localStorage.setItem(OUTBOX, JSON.stringify(box)) : localStorage.removeItem(OUTBOX);
    }
    return box;
  } catch (_) {
    return {};
  }
};

function post(endpoint, body) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10000);
  return fetch(endpoint + "/api/v1/reports", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
    signal: abort.signal,
  }).finally(() => clearTimeout(timer));
}

// 429 and 5xx may pass later; any other answer is final.
const isFinal = (response) => response.status < 500 && response.status != 429;

// A report the loader kept (the dialog code could not load) carries its wider context in `c`:
// cut as the dialog would have, so it joins the same report as a send from the dialog.
const cut = (kept) => {
  const body = kept.b;
  if (kept.c)
    [body.prefix, body.suffix] = context(kept.c[0], body.exact, kept.c[1], 64, body.lang);
  return body;
};

const KEEP_UNSENT_MS = 2592e6; // 30 days
let flushing;
function flush() {
  if (flushing) return;
  flushing = 1;
  const box = outbox();
  Promise.all(
    Object.keys(box).map((key) =>
      Date.now() - box[key].t > KEEP_UNSENT_MS
        ? outbox((kept) => delete kept[key])
        : post(box[key].e, cut(box[key])).then(
            (response) => isFinal(response) && outbox((kept) => delete kept[key]),
            () => 0
          )
    )
  ).then(() => (flushing = 0));
}

let host;
let button;

const open = (range, back) => {
  const captured = capture(range);
  if (captured) withSite(() => openDialog(captured, back));
};

function openDialog(captured, back) {
  if (host) return;
  showButton();
  const directed = (captured.root_ || document.body).closest("[dir]");
  host = document.createElement("copydesk-dialog");
  const root = styledShadow(host);
  const body = element("div", { id: "body" });
  const status = element("p", { role: "status", id: "status" });
  const actions = element("div", { class: "actions" });
  const dialog = element(
    "div",
    {
      role: "dialog",
      "aria-modal": "true",
      "aria-labelledby": "title",
      tabindex: "-1",
      lang: language(),
      // Arabic and Hebrew read right to left; so do English texts on a right-to-left page (one in a
      // language without built-in texts, its own words in data-text-*).
      dir: RTL.test(language()) || (language() == "en" && directed && directed.dir == "rtl") ? "rtl" : "ltr",
    },
    [element("h2", { id: "title" }, [text("title")]), body, status, actions]
  );
  root.append(element("div", { class: "backdrop" }), dialog);

  const say = (words) => (status.textContent = words);
  const buttons = (list) => {
    actions.textContent = "";
    list.forEach(([label, action, primary]) => {
      const created = element("button", { type: "button", class: primary ? "primary" : "" }, [text(label)]);
      created.onclick = action;
      actions.append(created);
    });
    return actions.firstChild;
  };
  // Nothing but a message and a Close button: the how-to, the limit, the outcome.
  const notice = (words, inStatus) => {
    body.textContent = "";
    inStatus ? say(words) : body.append(element("p", 0, [words]));
    dialog.setAttribute("aria-describedby", inStatus ? "status" : "body");
    buttons([["close", close, 1]]).focus();
  };

  const close = () => {
    host.remove();
    host = 0;
    document.removeEventListener("focusin", keepFocus);
    if (back && back.focus) back.focus();
  };
  // Focus that leaves for the page (a click outside, a screen reader) comes back.
  const keepFocus = (event) => event.target != host && dialog.focus();
  const focusable = () => [...dialog.querySelectorAll("button,textarea,input:not([tabindex='-1'])")];

  let sending;
  let report;
  const fields = {};
  const send = () => {
    if (sending) return;
    sending = 1;
    say(text("sending"));
    Object.keys(fields).forEach((name) => {
      // An empty field is left out of the body (an empty address is no address).
      report[name] = fields[name].value || undefined;
      fields[name].removeAttribute("aria-invalid");
    });
    const kind = dialog.querySelector("[name=kind]:checked");
    report.kind = kind ? kind.value : undefined;
    post(widget.endpoint_, report)
      .then((response) => {
        sending = 0;
        if (response.status == 201) return notice(text("thanks"), 1);
        // The desk says Retry-After in seconds; the reader reads minutes.
        if (response.status == 429) return say(text("rate", Math.ceil(response.headers.get("Retry-After") / 60) || 1));
        if (!isFinal(response)) throw 0;
        return response.json().then(
          (answer) => {
            const errors = answer.errors || {};
            const codes = answer.codes || {};
            const words = [];
            // Each code in the reader's language; a code this dialog does not know, in the desk's words.
            Object.keys(errors).forEach((name) =>
              [].concat(errors[name]).forEach((message, index) => {
                const known = CODES[[].concat(codes[name])[index]];
                const said = known ? text(known, maxSelection) : message;
                if (!words.includes(said)) words.push(said);
              })
            );
            say(text("rejected") + " " + words.join(" "));
            Object.keys(errors).forEach((name) => {
              if (fields[name])
                fields[name].setAttribute("aria-invalid", "true"), fields[name].setAttribute("aria-describedby", "status");
            });
          },
          () => say(text("rejected") + " " + response.status)
        );
      })
      .catch(() => {
        // Kept with its idempotency key, so a retry can only land once.
        outbox((kept) => (kept[report.idempotency_key] = { e: widget.endpoint_, b: report, t: Date.now() }));
        notice(text("saved"), 1);
      });
  };

  dialog.onkeydown = (event) => {
    if (event.key == "Escape") return close();
    if (event.key == "Enter" && (event.ctrlKey || event.metaKey) && report) return send();
    if (event.key == "Tab") {
      const list = focusable();
      const at = list.indexOf(root.activeElement);
      if (event.shiftKey ? at < 1 : at == list.length - 1) {
        event.preventDefault();
        list[event.shiftKey ? list.length - 1 : 0].focus();
      }
    }
  };

  document.documentElement.appendChild(host);
  document.addEventListener("focusin", keepFocus);
  if (!captured.exact_) return notice(text("howto"));
  // data-max-selection may only lower the site's limit: the desk refuses anything longer.
  const maxSelection = Math.min(+widget.options_.maxSelection || Infinity, site.max_selection || 300);
  if ([...captured.exact_].length > maxSelection) return notice(text("limit", maxSelection));

  const [prefix, suffix, cutBefore, cutAfter] = context(
    captured.textBefore_,
    captured.exact_,
    captured.textAfter_,
    site.max_context || 64,
    document.documentElement.lang
  );
  report = reportBody(widget, captured, prefix, suffix);
  const maxComment = site.max_comment || 1000;
  const field = (name, tag, attributes) => {
    fields[name] = element(tag, { id: name, name, ...attributes });
    return [element("label", { for: name }, [text(name)]), fields[name]];
  };
  body.append(
    element("blockquote", { id: "quote" }, [
      (cutBefore ? "…" : "") + prefix,
      element("mark", 0, [report.exact]),
      suffix + (cutAfter ? "…" : ""),
    ]),
    ...field("comment", "textarea", { rows: 3, maxlength: maxComment }),
    ...field("suggestion", "input", { maxlength: maxComment, autocomplete: "off" }),
    // "Tell me when it's fixed", where the site offers it; the address rides in the outbox too.
    ...(site.followup ? field("email", "input", { type: "email", autocomplete: "email" }) : []),
    // The kind of error: one optional choice, unless the site turned kinds off.
    ...(site.kinds === false
      ? []
      : [
          element("fieldset", { class: "kinds" }, [
            element("legend", 0, [text("kind")]),
            ...KINDS.map((kind) => element("label", 0, [element("input", { type: "radio", name: "kind", value: kind, id: kind }), text(kind)])),
          ]),
        ]),
    // The honeypot: hidden from people and screen readers, so only bots fill it in.
    element("div", { class: "honeypot", "aria-hidden": "true" }, field("website", "input", { tabindex: -1, autocomplete: "off" }))
  );
  dialog.setAttribute("aria-describedby", "quote");
  buttons([["send", send, 1], ["cancel", close]]);
  fields.comment.focus();
}

// (Nothing selected needs no settings: a dialog loaded to send the outbox has not asked for them.)
const tap = (captured) => (captured && captured.exact_ ? withSite(() => showButton(captured)) : showButton());

// The touch button below a selection; without one (or with the dialog open), none.
function showButton(captured) {
  if (button) button.remove();
  button = 0;
  if (!captured || !captured.exact_ || host) return;
  const rect = captured.range_.getBoundingClientRect();
  const created = element("button", { type: "button" }, [text("report")]);
  created.onclick = () => open(captured, document.activeElement);
  button = document.createElement("copydesk-button");
  styledShadow(button).append(created);
  // Below the selection, so it covers neither the text nor the native selection menu above it.
  created.style.top = rect.bottom + window.scrollY + 16 + "px";
  created.style.left = Math.max(8, Math.min(rect.left, window.innerWidth - 240)) + window.scrollX + "px";
  document.documentElement.appendChild(button);
}

if (widget) {
  widget.dialogLoaded_({ open_: open, tap_: tap, flush_: flush });
  // Touch readers get a button below a settled selection; a touch laptop keeps Ctrl+Enter as well.
  // Until the first pointer is seen (the selection that fetched the dialog), a touch screen says touch.
  let touch = matchMedia("(pointer: coarse)").matches;
  addEventListener("pointerdown", (event) => (touch = event.pointerType == "touch"), true);
  addEventListener("touchstart", () => (touch = 1), { capture: true, passive: true });
  let settling;
  const settle = () => {
    clearTimeout(settling);
    settling = setTimeout(() => {
      const selection = getSelection();
      if (touch || button) tap(selection.rangeCount && capture(selection.getRangeAt(0)));
    }, 400);
  };
  document.addEventListener("selectionchange", settle);
  settle();
}
