// Shared by the loader and the dialog chunk (each bundles its own copy).
export const OUTBOX = "copydesk:outbox";

// Built-in languages; anything else reads English.
export const pickLang = (tag) => (/^ru([-_]|$)/i.test(tag || "") ? "ru" : "en");

// data-text-<name> overrides the built-in string <name> (data-text-hint-tap -> dataset.textHintTap);
// Mac readers press Cmd where the text says Ctrl.
export const textOf = (C, dict, name) => {
  const s = C.o["text" + name[0].toUpperCase() + name.slice(1)] || dict[C.L][name];
  return C.mac ? s.replace(/Ctrl/g, "Cmd") : s;
};
