// Keyboard triage for the dashboard: a progressive enhancement over forms that work without
// it. In the report list, actions go by fetch (the list stays, no page load); on a report's
// page, the same keys press the page's own buttons, which go on to the list's next report.
// The shortcuts are listed in base.html's <dialog id="shortcuts">; its data- attributes
// carry this script's messages in the editor's language.
(function () {
  "use strict";

  const help = document.getElementById("shortcuts");
  if (!help) return; // not logged in: no shortcuts
  const table = document.querySelector("table[data-triage]");
  const reportPage = document.querySelector(".report-actions:not(.in-list)");
  const ACTING_KEYS = { c: "c", f: "f", n: "n", s: "s", a: "a" };
  let current = null;

  // The list has its live region; a report's page gets one only when there is news for it
  // (its flash messages are its own status).
  function announce(message, isError) {
    let live = document.getElementById("triage-status");
    if (!live) {
      live = document.createElement("p");
      live.id = "triage-status";
      live.className = "visually-hidden";
      live.setAttribute("role", "status");
      document.body.append(live);
    }
    live.textContent = message || "";
    live.classList.toggle("error", Boolean(isError));
  }

  // Typing in a field (or with a modifier held) is never a shortcut.
  function typing(target) {
    return target instanceof Element &&
      Boolean(target.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])"));
  }

  function rows() {
    return table ? Array.from(table.tBodies[0].rows) : [];
  }

  function setCurrent(row, focus) {
    if (current) {
      current.classList.remove("current");
      current.removeAttribute("aria-current");
    }
    current = row || null;
    if (!current) return;
    current.classList.add("current");
    current.setAttribute("aria-current", "true");
    current.tabIndex = -1;
    if (focus) current.focus();
    current.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(current);
    const next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    setCurrent(all[next], true);
  }

  // The control a key stands for in one report's actions (data-key in _actions.html).
  function control(scope, key) {
    return scope ? scope.querySelector(`[data-key="${key}"]`) : null;
  }

  function press(scope, key) {
    const target = control(scope, key);
    if (!target) {
      announce(help.dataset.unavailable, true);
      return;
    }
    if (target.matches("input")) {
      target.focus(); // "duplicate of": the editor types the number, Enter sends, Escape cancels
    } else if (target.matches("a")) {
      target.click();
    } else {
      target.form.requestSubmit(target);
    }
  }

  async function send(form, submitter) {
    const row = form.closest("tr");
    const body = new FormData(form, submitter);
    let response, answer;
    try {
      // getAttribute: the form's "action" field shadows its .action property.
      response = await fetch(form.getAttribute("action"), {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      answer = await response.json();
    } catch (error) {
      announce(help.dataset.failed, true);
      return;
    }
    if (!response.ok) {
      announce(answer.error, true);
      return;
    }
    announce(answer.message);
    const wasCurrent = row === current || row.contains(document.activeElement);
    let next = row.nextElementSibling || row.previousElementSibling;
    if (answer.in_list !== false) {
      // Still in the list: the row as the desk renders it now; the next row is up.
      const holder = document.createElement("tbody");
      holder.innerHTML = answer.row;
      const fresh = holder.firstElementChild;
      row.replaceWith(fresh);
      next = fresh.nextElementSibling || fresh;
    } else {
      row.remove(); // no longer matches the list's filter
    }
    if (wasCurrent) setCurrent(next, true);
  }

  // Escape in "duplicate of" gives up on it: back to the row (or the page).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !(event.target instanceof Element) || !event.target.matches("input[data-key='u']")) return;
    event.target.value = "";
    const row = event.target.closest("tr.report-row");
    if (row) setCurrent(row, true);
    else event.target.blur();
  });

  // The bulk form: a number typed in "duplicate of #" closes the selected as its duplicates.
  const bulk = document.getElementById("bulk");
  if (bulk) {
    bulk.addEventListener("input", (event) => {
      if (event.target.name === "duplicate_of" && event.target.value.trim()) bulk.elements.resolution.value = "duplicate";
    });
  }

  if (table) {
    table.addEventListener("submit", (event) => {
      const form = event.target;
      if (!form.closest(".report-actions")) return;
      event.preventDefault();
      send(form, event.submitter);
    });
    table.addEventListener("click", (event) => {
      const row = event.target.closest("tr.report-row");
      if (row && row !== current) setCurrent(row, false);
    });
  }

  function openHelp() {
    if (!help.open) help.showModal();
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    if (help.open) return; // the dialog has its own keys (Escape closes it)
    const key = event.key;
    if (key === "?") {
      openHelp();
    } else if (key === "/") {
      const search = document.querySelector("[data-key='/']");
      if (!search) return;
      search.focus();
    } else if (table) {
      if (key === "j" || key === "ArrowDown") {
        move(1);
      } else if (key === "k" || key === "ArrowUp") {
        move(-1);
      } else if (key === "Enter" || key === "o") {
        // Enter on a focused button or link is that button's or link's own.
        if (key === "Enter" && event.target.closest("a, button, summary")) return;
        if (!current) return;
        window.location.assign(current.dataset.href);
      } else if (key in ACTING_KEYS || key === "u") {
        if (!current) move(1);
        press(current, key);
      } else if (key === "x") {
        if (!current) move(1);
        const box = current && current.querySelector("input[type='checkbox'][name='report']");
        if (box) box.checked = !box.checked;
      } else {
        return;
      }
    } else if (reportPage) {
      if (key in ACTING_KEYS || key === "u" || key === "j") {
        press(reportPage, key);
      } else {
        return;
      }
    } else {
      return;
    }
    event.preventDefault();
  });
})();
