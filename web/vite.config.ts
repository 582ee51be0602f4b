import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build goes to dist/, which the api serves at / (src/kartoteka/presentation/http/web.py):
// index.html is revalidated on every load, dist/assets/* are content-hashed and cached for a year.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, chunkSizeWarningLimit: 400 },
  server: {
    // `npm run dev` against a local `kartoteka serve` (make run).
    proxy: {
      "/api": { target: "http://127.0.0.1:8000", ws: true },
    },
  },
});
