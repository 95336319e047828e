import { Stack, Title } from "@mantine/core";

export default function ProjectsPage() {
	return (
		<Stack p="md">
			<Title order={1}>ProjectsPage</Title>
		</Stack>
	);
}
