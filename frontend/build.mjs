// Builds the two static folders the Python services serve (no bundler: plain ES modules and the UMD builds of
// d3-array, d3-geo and topojson-client; the Natural Earth map data from world-atlas). Run: npm ci && npm run build.
// The output is committed, so Python alone can serve the pages.
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const modules = join(here, "node_modules");
const common = join(here, "src", "common");

const targets = [
  {
    name: "dashboard",
    out: join(root, "services", "crisis_center", "dashboard", "static"),
    page: join(here, "src", "dashboard"),
    vendor: [
      ["d3-array/dist/d3-array.min.js", "vendor/d3-array.min.js"],
      ["d3-geo/dist/d3-geo.min.js", "vendor/d3-geo.min.js"],
      ["topojson-client/dist/topojson-client.min.js", "vendor/topojson-client.min.js"],
      ["world-atlas/countries-50m.json", "data/countries-50m.json"],
    ],
    licences: ["d3-array", "d3-geo", "topojson-client", "world-atlas"],
  },
  {
    name: "console",
    out: join(root, "services", "intake", "console", "static"),
    page: join(here, "src", "console"),
    vendor: [],
    licences: [],
  },
];

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

for (const target of targets) {
  rmSync(target.out, { recursive: true, force: true });
  const assets = join(target.out, "assets");
  for (const file of readdirSync(common)) copy(join(common, file), join(assets, file));
  for (const file of readdirSync(target.page)) {
    copy(join(target.page, file), file === "index.html" ? join(target.out, file) : join(assets, file));
  }
  for (const [from, to] of target.vendor) copy(join(modules, from), join(assets, to));
  for (const pkg of target.licences) copy(join(modules, pkg, "LICENSE"), join(assets, "vendor", `LICENSE-${pkg}.txt`));
  writeFileSync(join(target.out, "BUILT.txt"),
    "Built by `npm run build` in frontend/ from frontend/src: do not edit here.\n");
  console.log(`${target.name}: ${target.out}`);
}
