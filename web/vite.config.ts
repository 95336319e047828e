import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const gateway = process.env.COLONY_GATEWAY ?? "http://localhost:8080";

// The app is built into web/dist, which the gateway serves at `/`; in development Vite serves it on port 3000
// and passes the API and the sockets through to a running gateway.
export default defineConfig(() => ({
	root: fileURLToPath(new URL(".", import.meta.url)),
	plugins: [react()],
	resolve: {
		alias: {
			"@colony/client": fileURLToPath(new URL("../client/index.ts", import.meta.url)),
			"@colony/types": fileURLToPath(new URL("../types", import.meta.url)),
		},
	},
	build: {
		outDir: "dist",
		emptyOutDir: true,
		// No source maps: the gateway would serve them to anyone.
		sourcemap: false,
		// The initial bundle is budgeted (250 KB gzipped): a warning names a chunk that grew past this.
		chunkSizeWarningLimit: 600,
	},
	server: {
		port: 3000,
		strictPort: true,
		proxy: {
			"/api": { target: gateway, changeOrigin: false },
			"/socket.io": { target: gateway, ws: true },
		},
	},
}));
