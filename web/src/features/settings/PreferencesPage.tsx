import { Stack, Title } from "@mantine/core";

export default function PreferencesPage() {
	return (
		<Stack p="md">
			<Title order={1}>PreferencesPage</Title>
		</Stack>
	);
}
