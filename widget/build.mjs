// Builds static/copydesk.js (the loader) and static/copydesk-dialog.js (the lazily
// loaded dialog). Usage: node widget/build.mjs [--outdir DIR]  (default: static/)
import { build, transform } from "esbuild";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { outdir: { type: "string" } } });

const css = await transform(await readFile(resolve(here, "src/dialog.css"), "utf8"), { loader: "css", minify: true });

await build({
  entryPoints: {
    copydesk: resolve(here, "src/loader.js"),
    "copydesk-dialog": resolve(here, "src/dialog.js"),
  },
  outdir: values.outdir ? resolve(values.outdir) : resolve(here, "../static"),
  bundle: true,
  format: "iife",
  target: "es2019",
  minify: true,
  // ASCII output: a page in windows-1251 decodes our scripts with its own charset.
  charset: "ascii",
  legalComments: "none",
  sourcemap: false,
  define: { __DIALOG_CSS__: JSON.stringify(css.code.trim()) },
  logLevel: "warning",
});
