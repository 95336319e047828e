import { Alert, Button, Group, Modal, Radio, Stack, TextInput } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";
import { chatKeys } from "./data";

/** What the server accepts as a channel name: lowercase letters, digits, `-` and `_`, starting with a letter or digit. */
export function normaliseChannelName(input: string): string {
	return input
		.toLowerCase()
		.replace(/\s+/g, "-")
		.replace(/[^a-z0-9_-]/g, "");
}

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** Creates a channel and opens it. */
export default function NewChannelDialog({ opened, onClose }: { opened: boolean; onClose: () => void }) {
	const queryClient = useQueryClient();
	const navigate = useNavigate();
	const [name, setName] = useState("");
	const [type, setType] = useState<"public" | "private">("public");
	const [topic, setTopic] = useState("");
	const [error, setError] = useState<string | null>(null);
	const [busy, setBusy] = useState(false);
	const nameProblem = name && !NAME.test(name) ? "Start with a letter or a digit." : null;

	const close = () => {
		setName("");
		setType("public");
		setTopic("");
		setError(null);
		onClose();
	};

	const submit = async (event: FormEvent) => {
		event.preventDefault();
		if (!NAME.test(name) || busy) return;
		setBusy(true);
		setError(null);
		try {
			const channel = await api.createChannel({ name, type, ...(topic.trim() ? { topic: topic.trim() } : {}) });
			await queryClient.invalidateQueries({ queryKey: chatKeys.channels });
			void queryClient.invalidateQueries({ queryKey: chatKeys.unread });
			close();
			navigate(`/channels/${channel.id}`);
		} catch (err) {
			setError(reasonOf(err));
		} finally {
			setBusy(false);
		}
	};

	return (
		<Modal opened={opened} onClose={close} title="New channel" closeButtonProps={{ "aria-label": "Close" }}>
			<form onSubmit={(event) => void submit(event)} noValidate>
				<Stack>
					<TextInput
						label="Name"
						description="Lowercase letters, digits, hyphens and underscores."
						required
						maxLength={80}
						value={name}
						error={nameProblem}
						onChange={(event) => setName(normaliseChannelName(event.currentTarget.value))}
						data-autofocus
					/>
					<Radio.Group label="Visibility" value={type} onChange={(value) => setType(value === "private" ? "private" : "public")}>
						<Stack gap="xs" mt="xs">
							<Radio value="public" label="Public: anyone can find and join it" />
							<Radio value="private" label="Private: only people who are added" />
						</Stack>
					</Radio.Group>
					<TextInput label="Topic" description="Optional: what the channel is about." maxLength={250} value={topic} onChange={(event) => setTopic(event.currentTarget.value)} />
					{error && (
						<Alert color="red" role="alert">
							{error}
						</Alert>
					)}
					<Group justify="flex-end">
						<Button variant="default" onClick={close}>
							Cancel
						</Button>
						<Button type="submit" loading={busy} disabled={!NAME.test(name)}>
							Create channel
						</Button>
					</Group>
				</Stack>
			</form>
		</Modal>
	);
}
