import { createTheme } from "@mantine/core";

/** Colony's look: a green primary that keeps WCAG AA contrast on white and on the dark background. */
export const theme = createTheme({
	primaryColor: "green",
	primaryShade: { light: 8, dark: 5 },
	defaultRadius: "md",
	fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
});
