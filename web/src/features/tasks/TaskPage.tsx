import { Stack, Title } from "@mantine/core";

export default function TaskPage() {
	return (
		<Stack p="md">
			<Title order={1}>TaskPage</Title>
		</Stack>
	);
}
