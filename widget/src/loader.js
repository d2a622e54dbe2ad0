// The loader: all a page downloads before the reader acts (budget: 2 KB gzipped, with the
// page's language file). At load it only adds listeners, fills the footer hint and retries
// unsent reports. The dialog (copydesk-dialog.<release>.js) reads the selection, shows the
// touch button and sends; it is fetched, with its texts and the site's settings, once the
// reader selects text or presses the key. What the loader does itself is what must work when
// the desk cannot be reached: keep the selection and tell the reader so.
import { OUTBOX, idempotencyKey, isField, normalizeSpace } from "./common.js";

const script = document.currentScript;

// The page's texts (hint, hintTap, kept, close), as their data-text-<name> options read in the
// dataset ("HintTap": data-text-hint-tap); they load as copydesk-<lang>.<release>.json. Without
// that file, English words for the notice only.
const PAGE = __PAGE__;
const FALLBACK = __FALLBACK__;
// Every built-in language ("en ru …"), and the release: the names of the dialog and language files.
const LANGUAGES = __LANGUAGES__;
const RELEASE = __RELEASE__;
// How long the dialog code may take to load before the reader is told the report is kept for later.
const PATIENCE_MS = 4000;
const BLOCKS = "p,li,dd,td,th,h1,h2,h3,h4,h5,h6,figcaption,div,body";

// A file of this release next to the loader (the dialog code, a language's texts).
const asset = (name, type) => new URL(`copydesk-${name}.${RELEASE}.${type}`, script.src).href;

let dialog;
let waiting;
// The dialog chunk is a plain <script src> from the desk, so `script-src <desk>` allows it.
// `then` gets the dialog, or 0 when its code could not load.
function withDialog(then) {
  if (dialog) return then(dialog);
  if (!waiting) {
    waiting = [];
    const chunk = document.createElement("script");
    chunk.src = asset("dialog", "js");
    chunk.widget_ = widget;
    chunk.onload = chunk.onerror = () => {
      chunk.remove();
      if (!dialog) waiting.forEach((then) => then(0)), (waiting = 0);
    };
    document.head.appendChild(chunk);
  }
  waiting.push(then);
}

// A reader acts (selects text, presses the key): the site's settings are asked for alongside the
// dialog code and the texts of the page's language, then those of the site's if it names another
// (an error answer carries no settings: the dialog uses its defaults).
function forReader(then) {
  if (!widget.siteSettings_) {
    // (Site keys are URL-safe: a mistyped one just gets the desk's 404, and the dialog its defaults.)
    widget.siteSettings_ = fetch(`${widget.endpoint_}/api/v1/sites/${widget.options_.site}/widget-config`, {
      credentials: "omit",
    })
      .then((response) => response.json())
      .catch(() => 0);
    widget.texts_("dialog-" + widget.languageOf_());
    widget.siteSettings_.then((site) => widget.texts_("dialog-" + widget.languageOf_(site && site.lang)));
  }
  withDialog(then);
}

function sendUnsent() {
  try {
    if (localStorage.getItem(OUTBOX)) withDialog((loaded) => loaded && loaded.flush_());
  } catch (_) {}
}

const fetched = {};
const widget = script && {
  options_: script.dataset,
  endpoint_: (script.dataset.endpoint || new URL(script.src).origin).replace(/\/+$/, ""),
  mac_: /mac|iphone|ipad/i.test((navigator.userAgentData || {}).platform || navigator.platform),
  // The built-in language of data-lang, else the site's (from the desk, once asked), else <html lang>:
  // "pt-BR" reads Portuguese; a language without built-in texts reads English.
  languageOf_: (siteLanguage) => {
    const tag = /^([a-z]{2})([-_]|$)/i.exec(widget.options_.lang || siteLanguage || document.documentElement.lang);
    return tag && LANGUAGES.includes((siteLanguage = tag[1].toLowerCase())) ? siteLanguage : "en";
  },
  // A language's texts (copydesk-<name>.<release>.json), fetched once: the page's are "<lang>",
  // the dialog's "dialog-<lang>" (0 for English, built into the dialog). 0 when they cannot load.
  texts_: (name) =>
    (fetched[name] =
      fetched[name] ||
      (name == "dialog-en"
        ? Promise.resolve(0)
        : fetch(asset(name, "json"))
            .then((response) => response.ok && response.json())
            .catch(() => 0))),
  dialogLoaded_: (loaded) => {
    dialog = loaded;
    waiting.forEach((then) => then(loaded));
  },
};

if (widget) {
  // The page's texts: data-lang, else <html lang> (the site's language is not known before the reader acts).
  const pageTexts = widget.texts_(widget.languageOf_());
  // data-text-<name> overrides the built-in text <name> (data-text-hint-tap -> dataset.textHintTap);
  // Mac readers press Cmd where the text says Ctrl (Strg in German).
  const say = (index, then) =>
    pageTexts.then((texts) => {
      const text = widget.options_["text" + PAGE[index]] || (texts || FALLBACK)[index];
      then(widget.mac_ ? text.replace(/Ctrl|Strg/g, "Cmd") : text);
    });

  const fillHint = () =>
    say(matchMedia("(pointer: coarse)").matches ? 1 : 0, (hint) =>
      document.querySelectorAll("[data-copydesk-hint]").forEach((element) => (element.textContent = hint))
    );
  document.readyState == "loading" ? document.addEventListener("DOMContentLoaded", fillHint) : fillHint();

  // The dialog code could not load: the selection goes to the outbox, sent by the dialog on a later
  // page load, and the reader hears so in a modal <dialog> (in a shadow root; focus moves to its
  // Close button, Esc or Close dismisses it and focus goes back; no styles of ours to allow).
  const keep = (range) => {
    const exact = range && normalizeSpace(range.toString()).trim();
    if (exact)
      try {
        // The text before and after the selection in its paragraph (or list item, cell, heading…);
        // the dialog cuts it into prefix and suffix.
        const around = (after) => {
          const text = document.createRange();
          const node = after ? range.endContainer : range.startContainer;
          text.selectNodeContents(node.parentNode.closest(BLOCKS));
          after ? text.setStart(node, range.endOffset) : text.setEnd(node, range.startOffset);
          return normalizeSpace(text.toString());
        };
        const box = JSON.parse(localStorage.getItem(OUTBOX)) || {};
        const key = idempotencyKey();
        // The outbox's stored format ({e: endpoint, b: report body, t: time kept}), and `c`, the context.
        box[key] = {
          e: widget.endpoint_,
          b: {
            site: widget.options_.site,
            idempotency_key: key,
            url: location.href.slice(0, 2048),
            title: document.title.slice(0, 500),
            lang: document.documentElement.lang,
            exact,
          },
          t: Date.now(),
          c: [around().slice(-500), around(1).slice(0, 500)],
        };
        localStorage.setItem(OUTBOX, JSON.stringify(box));
      } catch (_) {}
    say(exact ? 2 : 0, (words) =>
      say(3, (label) => {
        const host = document.createElement("copydesk-notice");
        const notice = document.createElement("dialog");
        const button = document.createElement("button");
        host.attachShadow({ mode: "open" }).append(notice);
        notice.append(words, " ", button);
        notice.setAttribute("aria-label", words);
        notice.lang = widget.languageOf_();
        notice.dir = "auto"; // Arabic and Hebrew read right to left
        notice.onclose = () => host.remove();
        button.textContent = label;
        button.onclick = () => notice.close();
        document.documentElement.appendChild(host);
        notice.showModal();
      })
    );
  };

  window.addEventListener(
    "keydown",
    (event) => {
      if (event.key == "Enter" && (widget.mac_ ? event.metaKey : event.ctrlKey) && !isField(event.target)) {
        const selection = getSelection();
        // A copy: the reader may select something else while the dialog loads.
        const range = selection.rangeCount && selection.getRangeAt(0).cloneRange();
        const node = range && range.commonAncestorContainer;
        const back = document.activeElement;
        let done;
        // The dialog opens, or (its code not loaded in time) the selection is kept for later: never both.
        const act = (loaded) => done || ((done = 1), loaded ? loaded.open_(range, back) : keep(range));
        // A selection in the page's own fields is the page's business.
        if (!range || !isField(node.nodeType == 1 ? node : node.parentNode)) {
          event.preventDefault();
          setTimeout(act, PATIENCE_MS);
          forReader(act);
        }
      }
    },
    true
  );

  // A selection (outside the page's fields) fetches the dialog, its texts and the site's settings
  // ahead, so the dialog opens at once; the dialog then shows touch readers their button.
  document.addEventListener("selectionchange", () => {
    if (!widget.siteSettings_ && !getSelection().isCollapsed && !isField(document.activeElement)) forReader(() => 0);
  });

  sendUnsent();
  window.addEventListener("online", sendUnsent);
}
