import { createTheme, type CSSVariablesResolver } from "@mantine/core";

/**
 * Colony's look. Teal at shade 9 keeps WCAG AA contrast (at least 4.5:1) for white text on filled buttons in both
 * schemes and for links on white; autoContrast picks the text colour of other filled elements.
 */
export const theme = createTheme({
	primaryColor: "teal",
	primaryShade: { light: 9, dark: 9 },
	autoContrast: true,
	// People who asked their system for less motion get no animated transitions (menus, popovers, modals).
	respectReducedMotion: true,
	defaultRadius: "md",
	fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
});

/** Mantine's "dimmed" greys are below AA contrast for small text, on white and on the dark background. */
export const contrastVariables: CSSVariablesResolver = () => ({
	variables: {},
	light: { "--mantine-color-dimmed": "var(--mantine-color-gray-7)" },
	dark: { "--mantine-color-dimmed": "var(--mantine-color-dark-1)" },
});
