import { Stack, Title } from "@mantine/core";

export default function ChannelBrowserPage() {
	return (
		<Stack p="md">
			<Title order={1}>ChannelBrowserPage</Title>
		</Stack>
	);
}
