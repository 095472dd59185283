// Bundles stats.js with its npm dependencies (esbuild) and makes the bundle a component
// exporting sqrtspace:pipeline/stage (ComponentizeJS). Every WASI feature is disabled, so the
// component imports nothing, as the host requires.
//
//   node build.mjs [OUT]    (default: stats.wasm here)

import { build } from "esbuild";
import { componentize } from "@bytecodealliance/componentize-js";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "stats.wasm"));
const work = await mkdtemp(join(tmpdir(), "stats-js-"));
try {
  const bundle = join(work, "bundle.js");
  await build({
    entryPoints: [join(here, "stats.js")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    outfile: bundle,
    logLevel: "warning",
  });
  const { component } = await componentize({
    sourcePath: bundle,
    witPath: join(here, "../../wit"),
    worldName: "plugin",
    disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
  });
  await writeFile(out, component);
  console.log(`wrote ${out} (${component.length} bytes)`);
} finally {
  await rm(work, { recursive: true, force: true });
}
