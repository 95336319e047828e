import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, type RenderResult } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router";
import { theme } from "../theme";

/** Renders a component with the app's providers (theme, queries, a router at `path`). */
export function renderWithProviders(ui: ReactElement, path = "/"): RenderResult {
	const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
	return render(
		<MantineProvider theme={theme}>
			<QueryClientProvider client={queryClient}>
				<MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
			</QueryClientProvider>
		</MantineProvider>,
	);
}
