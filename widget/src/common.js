// Shared by the loader and the dialog chunk (each bundles its own copy).
// Property names ending in "_" are internal: the build shortens them (esbuild mangleProps).

// Where unsent reports wait in localStorage.
export const OUTBOX = "copydesk:outbox";

export const normalizeSpace = (text) => text.replace(/[\u200b-\u200d\u2060\ufeff\u00ad]/g, "").replace(/\s+/g, " ");

// Typing in the page's own fields (or our dialog) is never a report.
export const isField = (element) =>
  element &&
  element.closest &&
  (element.isContentEditable || element.closest("input,textarea,select,copydesk-dialog,copydesk-button,copydesk-notice"));

// Context around a selection, at most `max` characters, cut at a word boundary (a cut through a
// word drops the part of it; a context without any space is cut where it must).
export const wordsBefore = (text, max) => (text.length > max ? text.slice(-max - 1).replace(/^\S*\s|^./, "") : text);
export const wordsAfter = (text, max) => (text.length > max ? text.slice(0, max + 1).replace(/\s\S*$|.$/, "") : text);

// Made once per report: the desk counts a report sent twice with the same key once.
// 128 random bits, as digits and dashes.
export const idempotencyKey = () => crypto.getRandomValues(new Uint32Array(4)).join("-");

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

// The API's report body for a captured selection (prefix and suffix already cut).
export function reportBody(widget, captured, prefix, suffix) {
  const canonical = document.querySelector("link[rel~=canonical]");
  const pageLanguage = (document.documentElement.lang || "").replace(/_/g, "-");
  return {
    site: widget.options_.site,
    idempotency_key: idempotencyKey(),
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
    prefix,
    suffix,
    position: captured.position_,
  };
}
