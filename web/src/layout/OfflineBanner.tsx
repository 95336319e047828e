import { Alert } from "@mantine/core";
import { useEffect, useState } from "react";
import { useBridgeEvent } from "../lib/session";

/** Says so while the browser is offline or the socket is down; messages typed meanwhile wait in the outbox. */
export function OfflineBanner() {
	const [online, setOnline] = useState(navigator.onLine);
	const [connected, setConnected] = useState(true);
	useEffect(() => {
		const up = () => setOnline(true);
		const down = () => setOnline(false);
		window.addEventListener("online", up);
		window.addEventListener("offline", down);
		return () => {
			window.removeEventListener("online", up);
			window.removeEventListener("offline", down);
		};
	}, []);
	useBridgeEvent("connected", () => setConnected(true));
	useBridgeEvent("disconnected", () => setConnected(false));
	if (online && connected) return null;
	return (
		<Alert role="status" color="yellow" variant="filled" radius={0} py={4} title={online ? "Reconnecting…" : "You are offline"}>
			Messages you write now are sent as soon as Colony is reachable again.
		</Alert>
	);
}
