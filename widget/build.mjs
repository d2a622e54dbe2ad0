// Builds the widget into static/ (or --outdir DIR):
//   copydesk.js                          the loader (every page)
//   copydesk-<lang>.<release>.json       the page's texts in its language (with the loader)
//   copydesk-dialog.<release>.js         the dialog (on a reader's action; English built in)
//   copydesk-dialog-<lang>.<release>.json  a language's dialog texts (with the dialog)
// each with a gzip (.gz) and a brotli (.br) copy the desk serves to browsers that take them.
// <release> is a hash of the dialog and every language file: their names change when their
// content does, so the desk serves them as immutable. Older files in static/ are removed.
// Usage: node widget/build.mjs [--outdir DIR]  (default: static/)
import { build, transform } from "esbuild";
import { createHash } from "node:crypto";
import { readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { CODES, KINDS, PAGE, TEXTS } from "./src/texts.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { outdir: { type: "string" } } });
const outdir = values.outdir ? resolve(values.outdir) : resolve(here, "../static");
// Short names of internal properties, kept from build to build: a loader cached in a reader's
// browser keeps working with the dialog of the next release.
const manglePath = resolve(here, "mangle-cache.json");
// Stands for the release hash in the built code until the hash is known.
const PLACEHOLDER = "0release0";

// Every language has every text, and {n} wherever English has it.
const names = Object.keys(TEXTS.en);
for (const [language, texts] of Object.entries(TEXTS)) {
  const missing = names.filter((name) => !texts[name] || texts[name].includes("{n}") != TEXTS.en[name].includes("{n}"));
  const extra = Object.keys(texts).filter((name) => !(name in TEXTS.en));
  if (missing.length || extra.length) throw new Error(`texts.mjs: ${language} lacks ${missing} / has unknown ${extra}`);
}

const css = await transform(await readFile(resolve(here, "src/dialog.css"), "utf8"), { loader: "css", minify: true });

const result = await build({
  entryPoints: {
    copydesk: resolve(here, "src/loader.js"),
    "copydesk-dialog": resolve(here, "src/dialog.js"),
  },
  outdir,
  write: false,
  bundle: true,
  format: "iife",
  target: "es2019",
  minify: true,
  // The source gives internal properties real names ending in "_"; the build shortens them.
  mangleProps: /_$/,
  mangleCache: JSON.parse(await readFile(manglePath, "utf8").catch(() => "{}")),
  // ASCII output: a page in windows-1251 decodes our scripts with its own charset.
  charset: "ascii",
  legalComments: "none",
  sourcemap: false,
  define: {
    __DIALOG_CSS__: JSON.stringify(css.code.trim()),
    __PAGE__: JSON.stringify(PAGE.map((name) => name[0].toUpperCase() + name.slice(1))),
    __FALLBACK__: JSON.stringify(PAGE.map((name) => (/kept|close/.test(name) ? TEXTS.en[name] : ""))),
    __TEXTS_EN__: JSON.stringify(TEXTS.en),
    __LANGUAGES__: JSON.stringify(Object.keys(TEXTS).join(" ")),
    __KINDS__: JSON.stringify(KINDS),
    __CODES__: JSON.stringify(CODES),
    __RELEASE__: JSON.stringify(PLACEHOLDER),
  },
  logLevel: "warning",
});
const code = Object.fromEntries(result.outputFiles.map((file) => [file.path.split("/").pop(), file.text]));

// JSON is UTF-8 whatever the page's charset: the language files keep their letters unescaped.
const lazy = { "copydesk-dialog.js": code["copydesk-dialog.js"] };
for (const [language, texts] of Object.entries(TEXTS)) {
  lazy[`copydesk-${language}.json`] = JSON.stringify(PAGE.map((name) => texts[name]));
  if (language != "en") lazy[`copydesk-dialog-${language}.json`] = JSON.stringify(texts);
}
const hash = createHash("sha256");
for (const name of Object.keys(lazy).sort()) hash.update(name + "\0" + lazy[name] + "\0");
const release = hash.digest("hex").slice(0, 10);

const files = { "copydesk.js": code["copydesk.js"] };
for (const [name, text] of Object.entries(lazy)) files[name.replace(/\.(js|json)$/, `.${release}.$1`)] = text;
for (const [name, text] of Object.entries(files)) {
  if (/\.js$/.test(name) && text.split(PLACEHOLDER).length != (name == "copydesk.js" ? 2 : 2))
    throw new Error(`${name}: the release placeholder is not where it should be`);
}

const sorted = Object.fromEntries(Object.entries(result.mangleCache).sort(([a], [b]) => (a < b ? -1 : 1)));
// Building elsewhere (the build test) leaves the committed cache alone and writes its own copy there.
await writeFile(values.outdir ? resolve(outdir, "mangle-cache.json") : manglePath, JSON.stringify(sorted, null, 2) + "\n");

// The previous build's files go: a reader's browser asking for one gets the current file (see assets.py).
for (const name of await readdir(outdir)) {
  if (/^copydesk[.-].*\.(js|json)(\.gz|\.br)?$/.test(name) && !(name.replace(/\.(gz|br)$/, "") in files))
    await unlink(resolve(outdir, name));
}
// mtime 0 and the best levels: the same source always gives the same bytes.
for (const [name, text] of Object.entries(files)) {
  const bytes = Buffer.from(text.split(PLACEHOLDER).join(release));
  await writeFile(resolve(outdir, name), bytes);
  await writeFile(resolve(outdir, name + ".gz"), gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION }));
  await writeFile(
    resolve(outdir, name + ".br"),
    brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    })
  );
}
