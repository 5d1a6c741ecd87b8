import { defineConfig } from "vitest/config";

// Tauri loads the built files from ui/dist (frontendDist "../ui/dist"); in development
// `npm run dev` serves them on a fixed port that a Tauri devUrl can point at.
export default defineConfig({
  base: "./",
  clearScreen: false,
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  server: {
    port: 1420,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK (Linux), WKWebView (macOS) and WebView2 (Windows).
    target: ["es2021", "chrome105", "safari15"],
    sourcemap: false,
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
});
