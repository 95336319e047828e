import { defineConfig, mergeConfig } from "vitest/config";
import viteConfig from "./vite.config";

// Component tests: the app's own components in jsdom, next to the code they test (`*.test.tsx`).
export default defineConfig((env) =>
	mergeConfig(
		viteConfig(env),
		defineConfig({
			test: {
				environment: "jsdom",
				include: ["src/**/*.test.{ts,tsx}"],
				setupFiles: ["src/test/setup.ts"],
				css: false,
			},
		}),
	),
);
