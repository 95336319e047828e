/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: "node",
	roots: ["<rootDir>/test"],
	testMatch: ["**/*.spec.ts"],
	transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: false }] },
	globalSetup: "<rootDir>/test/support/global-setup.ts",
	setupFiles: ["<rootDir>/test/support/env.ts"],
	testTimeout: 30000,
	// Integration suites share the real servers; one file at a time keeps them from starving each other on 2 cores.
	maxWorkers: 1,
};
