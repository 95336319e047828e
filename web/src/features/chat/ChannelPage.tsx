import { Stack, Title } from "@mantine/core";

export default function ChannelPage() {
	return (
		<Stack p="md">
			<Title order={1}>ChannelPage</Title>
		</Stack>
	);
}
