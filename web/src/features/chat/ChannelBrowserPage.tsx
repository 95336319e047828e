import { Alert, Button, Group, Paper, Stack, Text, TextInput, Title, VisuallyHidden } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useNavigate } from "react-router";
import { ScreenLoader } from "../../layout/ScreenLoader";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";
import classes from "./chat.module.css";
import { chatKeys, useChannels } from "./data";
import { HashIcon } from "./icons";

/** `/browse`: every public channel, to join or open. */
export default function ChannelBrowserPage() {
	const queryClient = useQueryClient();
	const navigate = useNavigate();
	const channels = useChannels();
	const [search, setSearch] = useState("");
	const [joining, setJoining] = useState<number | null>(null);
	const [error, setError] = useState<string | null>(null);

	const shown = useMemo(() => {
		const words = search.trim().toLowerCase();
		return (channels.data ?? [])
			.filter((channel) => channel.type === "public")
			.filter((channel) => !words || `${channel.name ?? ""} ${channel.topic ?? ""}`.toLowerCase().includes(words))
			.sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
	}, [channels.data, search]);

	const join = async (channelId: number) => {
		setJoining(channelId);
		setError(null);
		try {
			await api.joinChannel(channelId);
			await queryClient.invalidateQueries({ queryKey: chatKeys.channels });
			void queryClient.invalidateQueries({ queryKey: chatKeys.unread });
			navigate(`/channels/${channelId}`);
		} catch (err) {
			setError(reasonOf(err));
		} finally {
			setJoining(null);
		}
	};

	return (
		<Stack p="md" maw={760} gap="md">
			<Title order={1}>Browse channels</Title>
			<TextInput label="Search channels" type="search" value={search} onChange={(event) => setSearch(event.currentTarget.value)} />
			{error && (
				<Alert color="red" role="alert">
					{error}
				</Alert>
			)}
			{channels.isPending && <ScreenLoader label="Loading channels" />}
			{channels.isError && (
				<Alert color="red" role="alert" title="Channels could not be loaded">
					{reasonOf(channels.error)}
				</Alert>
			)}
			{channels.isSuccess && shown.length === 0 && <Text className={classes.muted}>{search.trim() ? "No public channel matches your search." : "There are no public channels yet."}</Text>}
			{shown.length > 0 && (
				<Stack component="ul" gap="xs" p={0} m={0} style={{ listStyle: "none" }} aria-label="Public channels">
					{shown.map((channel) => (
						<Paper component="li" key={channel.id} withBorder p="sm">
							<Group justify="space-between" wrap="nowrap" align="center">
								<div style={{ minWidth: 0 }}>
									<Group gap={4} wrap="nowrap">
										<HashIcon size={14} />
										<Text fw={600} truncate>
											{channel.name}
										</Text>
									</Group>
									{channel.topic && (
										<Text size="sm" className={classes.muted} lineClamp={2}>
											{channel.topic}
										</Text>
									)}
								</div>
								{channel.member ? (
									<Button component={Link} to={`/channels/${channel.id}`} variant="default" size="xs">
										Open <VisuallyHidden>#{channel.name}</VisuallyHidden>
									</Button>
								) : (
									<Button size="xs" loading={joining === channel.id} disabled={joining !== null} onClick={() => void join(channel.id)}>
										Join <VisuallyHidden>#{channel.name}</VisuallyHidden>
									</Button>
								)}
							</Group>
						</Paper>
					))}
				</Stack>
			)}
		</Stack>
	);
}
