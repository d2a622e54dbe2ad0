// The dialog chunk, loaded by copydesk.js on the first reader action (or to retry
// unsent reports). It reaches the loader through its own <script> element, so it
// defines no global.
import { OUTBOX } from "./common.js";

const widget = (document.currentScript || {}).widget_;

const TEXTS = {
  en: {
    title: "Report an error",
    report: "Report an error",
    comment: "Comment (optional)",
    suggestion: "Suggested correction (optional)",
    website: "Leave this field empty",
    send: "Send",
    cancel: "Cancel",
    close: "Close",
    howto: "To report an error, select the text that contains it, then press Ctrl + Enter.",
    limit: "Please select at most {n} characters.",
    sending: "Sending…",
    thanks: "Thank you! Now the editors are aware.",
    saved: "We could not send it right now; it is saved and will be sent automatically.",
    rate: "Too many reports from your network. Please try again in {n} minutes.",
    rejected: "The report was not accepted:",
  },
  ru: {
    title: "Сообщить об ошибке",
    report: "Сообщить об ошибке",
    comment: "Комментарий (необязательно)",
    suggestion: "Как правильно (необязательно)",
    website: "Оставьте это поле пустым",
    send: "Отправить",
    cancel: "Отмена",
    close: "Закрыть",
    howto: "Чтобы сообщить об ошибке, выделите фрагмент текста с ней и нажмите Ctrl + Enter.",
    limit: "Пожалуйста, выделите не более {n} символов.",
    sending: "Отправляем…",
    thanks: "Спасибо! Редакция уже в курсе.",
    saved: "Сейчас отправить не удалось; сообщение сохранено и будет отправлено автоматически.",
    rate: "Слишком много сообщений из вашей сети. Попробуйте снова через {n} мин.",
    rejected: "Сообщение не принято:",
  },
};

// The dialog.css text, minified by build.mjs.
const CSS = __DIALOG_CSS__;

// The desk's answer about this site ({lang, max_selection, max_context, max_comment}), waited
// for at most 3 s; {} without one. Its limits are the rules: numbers written here are fallbacks only.
let site;
let siteArrived;
function withSite(then) {
  siteArrived =
    siteArrived ||
    Promise.race([widget.siteSettings_, new Promise((done) => setTimeout(done, 3000))]).then(
      (answer) => (site = answer || {})
    );
  siteArrived.then(then);
}

const language = () => widget.languageOf_(site.lang);
const text = (name, number) => widget.textOf_(TEXTS, language(), name).replace("{n}", number);

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

const KEEP_UNSENT_MS = 30 * 24 * 3600 * 1000;
let flushing;
function flush() {
  if (flushing) return;
  flushing = 1;
  const box = outbox();
  Promise.all(
    Object.keys(box).map((key) =>
      Date.now() - box[key].t > KEEP_UNSENT_MS
        ? outbox((kept) => delete kept[key])
        : post(box[key].e, box[key].b).then(
            (response) => isFinal(response) && outbox((kept) => delete kept[key]),
            () => 0
          )
    )
  ).then(() => (flushing = 0));
}

const meta = (name) => {
  const found = document.querySelector(`meta[property="${name}"],meta[name="${name}"]`);
  return (found && found.content) || "";
};
// data-copydesk-<name> on the article root, an ancestor, or anywhere on the page.
const markup = (root, name) => {
  const selector = `[data-copydesk-${name}]`;
  const found = root.closest(selector) || document.querySelector(selector);
  return found ? found.getAttribute(selector.slice(1, -1)) : "";
};

function reportBody(captured) {
  const maxContext = site.max_context || 64;
  const canonical = document.querySelector("link[rel~=canonical]");
  const pageLanguage = (document.documentElement.lang || "").replace(/_/g, "-");
  return {
    site: widget.options_.site,
    idempotency_key: [...crypto.getRandomValues(new Uint8Array(16))].map((v) => (v | 256).toString(16).slice(1)).join(""),
    url: location.href.slice(0, 2048),
    canonical_url: canonical && /^https?:/.test(canonical.href) ? canonical.href.slice(0, 2048) : null,
    title: document.title.slice(0, 500),
    // The desk's rule for a language tag: at most 35 characters, or it refuses the whole report.
    lang: /^(?=.{1,35}$)[a-z]{1,8}(-[a-z\d]{1,8})*$/i.test(pageLanguage) ? pageLanguage : "",
    article_id: markup(captured.root_, "article-id").slice(0, 200),
    article_section: (markup(captured.root_, "section") || meta("article:section")).slice(0, 200),
    article_author: (markup(captured.root_, "author") || meta("article:author") || meta("author")).slice(0, 200),
    article_published: (markup(captured.root_, "published") || meta("article:published_time")).slice(0, 64),
    exact: captured.exact_,
    // Cut to the site's limit; half an emoji at the cut is dropped by the desk.
    prefix: captured.textBefore_.slice(-maxContext),
    suffix: captured.textAfter_.slice(0, maxContext),
    position: captured.position_,
  };
}

let host;
let button;

const open = (captured, back) => withSite(() => openDialog(captured, back));

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
      dir: directed && directed.dir == "rtl" ? "rtl" : "ltr",
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
      report[name] = fields[name].value;
      fields[name].removeAttribute("aria-invalid");
    });
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
            say(text("rejected") + " " + Object.keys(errors).map((name) => [].concat(errors[name]).join(" ")).join(" "));
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

  report = reportBody(captured);
  const maxComment = site.max_comment || 1000;
  const field = (name, tag, attributes) => {
    fields[name] = element(tag, { id: name, name, ...attributes });
    return [element("label", { for: name }, [text(name)]), fields[name]];
  };
  body.append(
    element("blockquote", { id: "quote" }, [
      report.prefix ? "…" + report.prefix : "",
      element("mark", 0, [report.exact]),
      report.suffix ? report.suffix + "…" : "",
    ]),
    ...field("comment", "textarea", { rows: 3, maxlength: maxComment }),
    ...field("suggestion", "input", { maxlength: maxComment, autocomplete: "off" }),
    // The honeypot: hidden from people and screen readers, so only bots fill it in.
    element("div", { class: "honeypot", "aria-hidden": "true" }, field("website", "input", { tabindex: -1, autocomplete: "off" }))
  );
  dialog.setAttribute("aria-describedby", "quote");
  buttons([["send", send, 1], ["cancel", close]]);
  fields.comment.focus();
}

const tap = (captured) => withSite(() => showButton(captured));

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

if (widget) widget.dialogLoaded_({ open_: open, tap_: tap, flush_: flush });
