import { Alert, Button, Group, Modal, Radio, Stack, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { api } from "../../lib/session";
import { useChannelOpener } from "./useChannelOpener";

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
	const [name, setName] = useState("");
	const [type, setType] = useState<"public" | "private">("public");
	const [topic, setTopic] = useState("");
	const nameProblem = name && !NAME.test(name) ? "Start with a letter or a digit." : null;

	const close = () => {
		setName("");
		setType("public");
		setTopic("");
		opener.clearError();
		onClose();
	};
	const opener = useChannelOpener(close);

	const submit = (event: FormEvent) => {
		event.preventDefault();
		if (!NAME.test(name)) return;
		void opener.open(() => api.createChannel({ name, type, ...(topic.trim() ? { topic: topic.trim() } : {}) }));
	};


	return (
		<Modal opened={opened} onClose={close} title="New channel" closeButtonProps={{ "aria-label": "Close" }}>
			<form onSubmit={submit} noValidate>
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
					{opener.error && (
						<Alert color="red" role="alert">
							{opener.error}
						</Alert>
					)}
					<Group justify="flex-end">
						<Button variant="default" onClick={close}>
							Cancel
						</Button>
						<Button type="submit" loading={opener.busy} disabled={!NAME.test(name)}>
							Create channel
						</Button>
					</Group>
				</Stack>
			</form>
		</Modal>
	);
}
