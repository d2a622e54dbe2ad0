// The dashboard's time zone: the browser tells the desk its zone once, in a cookie the
// server reads (copydesk/i18n.py) while the editor has not chosen one in Account.
(function () {
  "use strict";
  var COOKIE = "copydesk_tz";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  // IANA names need no escaping in a cookie; anything else is not a zone.
  if (!zone || !/^[A-Za-z0-9_+\/-]+$/.test(zone)) return;
  var current = document.cookie.split("; ").filter(function (c) {
    return c.indexOf(COOKIE + "=") === 0;
  })[0];
  if (current === COOKIE + "=" + zone) return;
  var secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = COOKIE + "=" + zone + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
})();
