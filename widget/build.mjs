// Builds static/copydesk.js (the loader) and static/copydesk-dialog.js (the lazily
// loaded dialog), each with a gzipped copy (.gz) the desk serves to browsers that take gzip.
// Usage: node widget/build.mjs [--outdir DIR]  (default: static/)
import { build, transform } from "esbuild";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { constants, gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { outdir: { type: "string" } } });
const outdir = values.outdir ? resolve(values.outdir) : resolve(here, "../static");
// Short names of internal properties, kept from build to build: a loader cached in a reader's
// browser keeps working with the dialog of the next release.
const manglePath = resolve(here, "mangle-cache.json");
const outputs = ["copydesk.js", "copydesk-dialog.js"];

const css = await transform(await readFile(resolve(here, "src/dialog.css"), "utf8"), { loader: "css", minify: true });

const result = await build({
  entryPoints: {
    copydesk: resolve(here, "src/loader.js"),
    "copydesk-dialog": resolve(here, "src/dialog.js"),
  },
  outdir,
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
  define: { __DIALOG_CSS__: JSON.stringify(css.code.trim()) },
  logLevel: "warning",
});

const sorted = Object.fromEntries(Object.entries(result.mangleCache).sort(([a], [b]) => (a < b ? -1 : 1)));
// Building elsewhere (the build test) leaves the committed cache alone and writes its own copy there.
await writeFile(values.outdir ? resolve(outdir, "mangle-cache.json") : manglePath, JSON.stringify(sorted, null, 2) + "\n");

// mtime 0 and the best level: the same source always gives the same bytes.
for (const name of outputs) {
  const code = await readFile(resolve(outdir, name));
  await writeFile(resolve(outdir, name + ".gz"), gzipSync(code, { level: constants.Z_BEST_COMPRESSION }));
}
