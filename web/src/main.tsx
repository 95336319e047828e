import "@mantine/core/styles.css";
import "./index.css";
import { MantineProvider, localStorageColorSchemeManager } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";
import { SessionProvider } from "./lib/session";
import { router } from "./routes";
import { contrastVariables, theme } from "./theme";

const queryClient = new QueryClient({
	defaultOptions: {
		// Live data comes over the socket; a refetch on focus catches what a sleeping laptop missed.
		queries: { staleTime: 30_000, retry: 1, refetchOnWindowFocus: true },
	},
});

createRoot(document.getElementById("root")!).render(
	<StrictMode>
		<MantineProvider
			theme={theme}
			defaultColorScheme="auto"
			colorSchemeManager={localStorageColorSchemeManager({ key: "colony.color-scheme" })}
			cssVariablesResolver={contrastVariables}
		>
			<QueryClientProvider client={queryClient}>
				<SessionProvider>
					<RouterProvider router={router} />
				</SessionProvider>
			</QueryClientProvider>
		</MantineProvider>
	</StrictMode>,
);

// The service worker (offline shell, Web Push) in production builds; loaded after the first screen.
void import("./lib/push").then((push) => push.registerServiceWorker());
