import { Stack, Title } from "@mantine/core";

export default function AiHostsPage() {
	return (
		<Stack p="md">
			<Title order={1}>AiHostsPage</Title>
		</Stack>
	);
}
