import type { PresenceStatus } from "@colony/client";
import { VisuallyHidden } from "@mantine/core";
import { PRESENCE_TEXT } from "./data";
import classes from "./nav.module.css";

/** A coloured dot for sighted people, the status in words for everyone else (unless `silent`: then say it with `PresenceText`). */
export function PresenceDot({ status, silent }: { status: PresenceStatus | undefined; silent?: boolean }) {
	const known = status ?? "unknown";
	return (
		<>
			<span className={classes.dot} data-status={known} aria-hidden="true" title={PRESENCE_TEXT[known]} />
			{!silent && <PresenceText status={known} />}
		</>
	);
}

export function PresenceText({ status }: { status: PresenceStatus | undefined }) {
	return (
		<>
			{" "}
			<VisuallyHidden>({PRESENCE_TEXT[status ?? "unknown"]})</VisuallyHidden>
		</>
	);
}
