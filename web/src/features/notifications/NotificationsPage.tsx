import { Stack, Title } from "@mantine/core";

export default function NotificationsPage() {
	return (
		<Stack p="md">
			<Title order={1}>NotificationsPage</Title>
		</Stack>
	);
}
