// The dialog chunk, loaded by copydesk.js on the first reader action (or to retry
// unsent reports). It reaches the loader through its own <script> element, so it
// defines no global.
import { OUTBOX, textOf } from "./common.js";

const d = document;
const w = window;
const C = (d.currentScript || {}).cd;

const STRINGS = {
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

const t = (name, n) => textOf(C, STRINGS, name).replace("{n}", n);

const h = (tag, attrs, kids) => {
  const e = d.createElement(tag);
  if (attrs) Object.keys(attrs).forEach((k) => e.setAttribute(k, attrs[k]));
  if (kids) e.append(...kids);
  return e;
};

let sheet;
// A constructable stylesheet is not subject to style-src, unlike <style> and style="".
function shadow(host) {
  const root = host.attachShadow({ mode: "open" });
  try {
    if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (_) {
    root.append(h("style", 0, [CSS]));
  }
  return root;
}

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
const final = (r) => r.status < 500 && r.status != 429;

let flushing;
function flush() {
  if (flushing) return;
  flushing = 1;
  const box = outbox();
  Promise.all(
    Object.keys(box).map((key) =>
      Date.now() - box[key].t > 2592e6
        ? outbox((b) => delete b[key])
        : post(box[key].e, box[key].b).then(
            (r) => final(r) && outbox((b) => delete b[key]),
            () => 0
          )
    )
  ).then(() => (flushing = 0));
}

const meta = (name) => {
  const e = d.querySelector(`meta[property="${name}"],meta[name="${name}"]`);
  return (e && e.content) || "";
};
// data-copydesk-<name> on the article root, an ancestor, or anywhere on the page.
const attr = (root, name) => {
  const s = `[data-copydesk-${name}]`;
  const e = root.closest(s) || d.querySelector(s);
  return e ? e.getAttribute(s.slice(1, -1)) : "";
};

function report(c) {
  const canonical = d.querySelector("link[rel~=canonical]");
  const lang = (d.documentElement.lang || "").replace(/_/g, "-");
  return {
    site: C.o.site,
    idempotency_key: [...crypto.getRandomValues(new Uint8Array(16))].map((v) => (v | 256).toString(16).slice(1)).join(""),
    url: location.href.slice(0, 2048),
    canonical_url: canonical && /^https?:/.test(canonical.href) ? canonical.href.slice(0, 2048) : null,
    title: d.title.slice(0, 500),
    lang: /^[a-z]{1,8}(-[a-z\d]{1,8})*$/i.test(lang) ? lang : "",
    article_id: attr(c.root, "article-id").slice(0, 200),
    article_section: (attr(c.root, "section") || meta("article:section")).slice(0, 200),
    article_author: (attr(c.root, "author") || meta("article:author") || meta("author")).slice(0, 200),
    article_published: (attr(c.root, "published") || meta("article:published_time")).slice(0, 64),
    exact: c.x,
    prefix: c.p,
    suffix: c.s,
    position: c.n,
  };
}

let host;
let button;

function open(c, back) {
  if (host) return;
  tap();
  const dirEl = (c.root || d.body).closest("[dir]");
  const max = +C.o.maxSelection || 300;
  host = d.createElement("copydesk-dialog");
  const root = shadow(host);
  const body = h("div", { id: "d" });
  const status = h("p", { role: "status", class: "m", id: "m" });
  const actions = h("div", { class: "a" });
  const dialog = h("div", { role: "dialog", "aria-modal": "true", "aria-labelledby": "t", tabindex: "-1",
    lang: C.L, dir: dirEl && dirEl.dir == "rtl" ? "rtl" : "ltr" },
  [h("h2", { id: "t" }, [t("title")]), body, status, actions]);
  root.append(h("div", { class: "b" }), dialog);

  const say = (text) => (status.textContent = text);
  const buttons = (list) => {
    actions.textContent = "";
    list.forEach(([label, action, primary]) => {
      const b = h("button", { type: "button", class: primary ? "p" : "" }, [t(label)]);
      b.onclick = action;
      actions.append(b);
    });
    return actions.firstChild;
  };
  // Nothing but a message and a Close button: the how-to, the limit, the outcome.
  const notice = (text, inStatus) => {
    body.textContent = "";
    inStatus ? say(text) : body.append(h("p", 0, [text]));
    dialog.setAttribute("aria-describedby", inStatus ? "m" : "d");
    buttons([["close", close, 1]]).focus();
  };

  const close = () => {
    host.remove();
    host = 0;
    d.removeEventListener("focusin", keepFocus);
    if (back && back.focus) back.focus();
  };
  // Focus that leaves for the page (a click outside, a screen reader) comes back.
  const keepFocus = (e) => e.target != host && dialog.focus();
  const focusable = () => [...dialog.querySelectorAll("button,textarea,input:not([tabindex='-1'])")];

  let sending;
  let data;
  const fields = {};
  const send = () => {
    if (sending) return;
    sending = 1;
    say(t("sending"));
    Object.keys(fields).forEach((k) => {
      data[k] = fields[k].value;
      fields[k].removeAttribute("aria-invalid");
    });
    post(C.E, data)
      .then((r) => {
        sending = 0;
        if (r.status == 201) return notice(t("thanks"), 1);
        if (r.status == 429) {
          const after = r.headers.get("Retry-After");
          const seconds = isNaN(+after) ? (Date.parse(after) - Date.now()) / 1e3 : +after;
          return say(t("rate", Math.max(1, Math.ceil(seconds / 60) || 1)));
        }
        if (!final(r)) throw 0;
        return r.json().then(
          (j) => {
            const errors = j.errors || {};
            say(t("rejected") + " " + Object.keys(errors).map((k) => [].concat(errors[k]).join(" ")).join(" "));
            Object.keys(errors).forEach((k) => {
              if (fields[k]) fields[k].setAttribute("aria-invalid", "true"), fields[k].setAttribute("aria-describedby", "m");
            });
          },
          () => say(t("rejected") + " " + r.status)
        );
      })
      .catch(() => {
        // Kept with its idempotency key, so a retry can only land once.
        outbox((b) => (b[data.idempotency_key] = { e: C.E, b: data, t: Date.now() }));
        notice(t("saved"), 1);
      });
  };

  dialog.onkeydown = (e) => {
    if (e.key == "Escape") return close();
    if (e.key == "Enter" && (e.ctrlKey || e.metaKey) && data) return send();
    if (e.key == "Tab") {
      const list = focusable();
      const i = list.indexOf(root.activeElement);
      if (e.shiftKey ? i < 1 : i == list.length - 1) {
        e.preventDefault();
        list[e.shiftKey ? list.length - 1 : 0].focus();
      }
    }
  };

  d.documentElement.appendChild(host);
  d.addEventListener("focusin", keepFocus);
  if (!c.x) return notice(t("howto"));
  if ([...c.x].length > max) return notice(t("limit", max));

  data = report(c);
  const field = (name, tag, attrs) => {
    fields[name] = h(tag, { id: name, name, ...attrs });
    return [h("label", { for: name }, [t(name)]), fields[name]];
  };
  body.append(
    h("blockquote", { id: "q" }, [c.p ? "…" + c.p : "", h("mark", 0, [c.x]), c.s ? c.s + "…" : ""]),
    ...field("comment", "textarea", { rows: 3, maxlength: 1000 }),
    ...field("suggestion", "input", { maxlength: 1000, autocomplete: "off" }),
    // The honeypot: hidden from people and screen readers, so only bots fill it in.
    h("div", { class: "h", "aria-hidden": "true" }, field("website", "input", { tabindex: -1, autocomplete: "off" }))
  );
  dialog.setAttribute("aria-describedby", "q");
  buttons([["send", send, 1], ["cancel", close]]);
  fields.comment.focus();
}

function tap(c) {
  if (button) button.remove();
  button = 0;
  if (!c || !c.x || host) return;
  const rect = c.r.getBoundingClientRect();
  const b = h("button", { type: "button" }, [t("report")]);
  b.onclick = () => open(c, d.activeElement);
  button = d.createElement("copydesk-button");
  shadow(button).append(b);
  // Below the selection, so it covers neither the text nor the native selection menu above it.
  b.style.top = rect.bottom + w.scrollY + 16 + "px";
  b.style.left = Math.max(8, Math.min(rect.left, w.innerWidth - 240)) + w.scrollX + "px";
  d.documentElement.appendChild(button);
}

if (C) C.f({ open, tap, flush });
