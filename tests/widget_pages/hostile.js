// Page scripts that have broken other widgets: an AMD loader, a `$` that is not
// jQuery, and enumerable additions to Array.prototype (Prototype.js style).
window.define = function () { throw new Error("widget must not call define"); };
window.define.amd = {};
window.$ = function () { throw new Error("widget must not call $"); };
Array.prototype.first = function () { return this[0]; };
Array.prototype.toJSON = function () { return "broken by the page"; };
