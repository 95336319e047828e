import { Stack, Title } from "@mantine/core";

export default function BoardPage() {
	return (
		<Stack p="md">
			<Title order={1}>BoardPage</Title>
		</Stack>
	);
}
