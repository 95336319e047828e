import { ScreenLoader } from "./ScreenLoader";
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useSession } from "../lib/session";

/** Screens behind the sign-in: a visitor is sent to it, and comes back here after. */
export function RequireUser({ children }: { children: ReactNode }) {
	const { user } = useSession();
	const location = useLocation();
	if (user === undefined) {
		return <ScreenLoader label="Loading Colony" />;
	}
	if (user === null) return <Navigate to={`/signin?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
	return children;
}
