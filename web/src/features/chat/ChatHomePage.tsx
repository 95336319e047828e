import { Stack, Title } from "@mantine/core";

export default function ChatHomePage() {
	return (
		<Stack p="md">
			<Title order={1}>ChatHomePage</Title>
		</Stack>
	);
}
