import { Stack, Title } from "@mantine/core";

export default function KnowledgePage() {
	return (
		<Stack p="md">
			<Title order={1}>KnowledgePage</Title>
		</Stack>
	);
}
