import { ActionIcon } from "@mantine/core";
import { Link } from "react-router";

/** The header's bell: the unread count, opening the notifications. */
export function NotificationBell() {
	return (
		<ActionIcon component={Link} to="/notifications" variant="default" size="lg" aria-label="Notifications">
			<span aria-hidden="true">🔔</span>
		</ActionIcon>
	);
}
