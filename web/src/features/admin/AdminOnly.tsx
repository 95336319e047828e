import { Alert, Stack, Title } from "@mantine/core";
import type { ReactNode } from "react";
import { useMe } from "../../lib/session";

/** The administration screens: their content for admins, a "not allowed" message for everyone else. */
export function AdminOnly({ title, children }: { title: string; children: ReactNode }) {
	const me = useMe();
	if (me.roles.includes("admin")) return children;
	return (
		<Stack p="md" maw={720}>
			<Title order={1}>{title}</Title>
			<Alert color="yellow" title="Not allowed">
				This page is for administrators. Ask an administrator of your Colony if you need something changed here.
			</Alert>
		</Stack>
	);
}
