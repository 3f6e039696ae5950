// Three builds into dist/, each one JS and at most one CSS file:
//   vite build                    the console (index.html, served at /)
//   vite build --mode simulator   the customer simulator (simulator/index.html, served at /simulator/)
//   vite build --mode widget      widget.js, the site chat widget (one script, styles inside its shadow root)
// `vite` (dev) serves the pages with hot reload and proxies the API to a runner at ZABOTA_API (make run's port).
import { fileURLToPath } from "node:url";
import { defineConfig, type UserConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
const api = process.env.ZABOTA_API ?? "http://127.0.0.1:8000";
const jsx = { jsx: { runtime: "automatic" as const, importSource: "preact" } };

function page(name: "console" | "simulator"): UserConfig {
  return {
    root,
    publicDir: name === "console" ? "static" : false,
    oxc: jsx,
    build: {
      outDir: "dist",
      emptyOutDir: name === "console",
      target: "es2022",
      modulePreload: { polyfill: false },
      reportCompressedSize: false,
      rolldownOptions: {
        input: `${root}${name === "console" ? "index.html" : "simulator/index.html"}`,
        output: { entryFileNames: `assets/${name}-[hash].js`, assetFileNames: `assets/${name}-[hash][extname]` },
      },
    },
    server: {
      proxy: {
        "/api": api,
        "/_sim": api,
        "/_files": api,
        "/ws": { target: api.replace(/^http/, "ws"), ws: true },
      },
    },
  };
}

const widget: UserConfig = {
  root,
  publicDir: false,
  oxc: jsx,
  build: {
    outDir: "dist",
    emptyOutDir: false,
    target: "es2020",
    reportCompressedSize: false,
    lib: { entry: `${root}src/widget/main.tsx`, formats: ["iife"], name: "ZabotaWidget", fileName: () => "widget.js" },
  },
};

export default defineConfig(({ mode }) => (mode === "widget" ? widget : page(mode === "simulator" ? "simulator" : "console")));
