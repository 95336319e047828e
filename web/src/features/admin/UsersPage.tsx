import { Stack, Title } from "@mantine/core";

export default function UsersPage() {
	return (
		<Stack p="md">
			<Title order={1}>UsersPage</Title>
		</Stack>
	);
}
