import { Anchor, Stack, Text, Title } from "@mantine/core";
import { Link } from "react-router";

export function NotFound() {
	return (
		<Stack p="xl">
			<Title order={1}>Not found</Title>
			<Text>There is nothing at this address.</Text>
			<Anchor component={Link} to="/channels">
				Back to your channels
			</Anchor>
		</Stack>
	);
}
