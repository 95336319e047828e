import { Alert, Button, Group, Stack, Text, Title } from "@mantine/core";
import { useState } from "react";
import { Link, Navigate } from "react-router";
import { ScreenLoader } from "../../layout/ScreenLoader";
import { reasonOf } from "../../lib/errors";
import { useMe } from "../../lib/session";
import classes from "./chat.module.css";
import { memberChannels, useChannels, useDirectory } from "./data";
import { lastChannelOf } from "./lastChannel";
import NewChannelDialog from "./NewChannelDialog";

/** `/channels`: the channel visited last (or the first one), or an invitation to find or create one. */
export default function ChatHomePage() {
	const me = useMe();
	const channels = useChannels();
	const directory = useDirectory();
	const [creating, setCreating] = useState(false);

	if (channels.isPending) return <ScreenLoader label="Loading channels" />;
	if (channels.isError) {
		return (
			<Stack p="md">
				<Title order={1}>Channels</Title>
				<Alert color="red" role="alert" title="Channels could not be loaded">
					{reasonOf(channels.error)}
				</Alert>
				<Group>
					<Button onClick={() => void channels.refetch()}>Try again</Button>
				</Group>
			</Stack>
		);
	}

	const { rooms, direct } = memberChannels(channels.data, me.id, directory.byId);
	const last = lastChannelOf(me.id);
	const target = [...rooms, ...direct].find((channel) => channel.id === last) ?? rooms[0] ?? direct[0];
	if (target) return <Navigate to={`/channels/${target.id}`} replace />;

	return (
		<Stack p="xl" maw={560} gap="md">
			<Title order={1}>Welcome to Colony</Title>
			<Text className={classes.muted}>You are not in any channel yet. Join one of the public channels, or start your own and invite your team.</Text>
			<Group>
				<Button component={Link} to="/browse">
					Browse public channels
				</Button>
				<Button variant="default" onClick={() => setCreating(true)}>
					Create a channel
				</Button>
			</Group>
			<NewChannelDialog opened={creating} onClose={() => setCreating(false)} />
		</Stack>
	);
}
