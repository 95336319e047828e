import { NavLink } from "@mantine/core";
import { NavLink as RouterNavLink } from "react-router";

/** The sidebar's channels and direct messages. */
export function ChannelNav() {
	return <NavLink component={RouterNavLink} to="/browse" label="Browse channels" />;
}
