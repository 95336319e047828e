import { Alert, Button, Group, Modal, Select, Stack } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { reasonOf } from "../../lib/errors";
import { api, useMe } from "../../lib/session";
import { chatKeys, useDirectory } from "./data";

/** Opens the direct conversation with someone (the same one every time). */
export default function NewDirectMessageDialog({ opened, onClose }: { opened: boolean; onClose: () => void }) {
	const me = useMe();
	const queryClient = useQueryClient();
	const navigate = useNavigate();
	const directory = useDirectory();
	const [person, setPerson] = useState<string | null>(null);
	const [error, setError] = useState<string | null>(null);
	const [busy, setBusy] = useState(false);

	// Someone may have joined Colony since the list was loaded.
	const { refetch } = directory;
	useEffect(() => {
		if (opened) refetch();
	}, [opened, refetch]);

	const options = useMemo(
		() =>
			[...directory.list]
				.sort((a, b) => a.displayName.localeCompare(b.displayName))
				.map((user) => ({ value: String(user.id), label: `${user.displayName} (@${user.username})${user.id === me.id ? ", you" : ""}` })),
		[directory.list, me.id],
	);

	const close = () => {
		setPerson(null);
		setError(null);
		onClose();
	};

	const submit = async (event: FormEvent) => {
		event.preventDefault();
		if (!person || busy) return;
		setBusy(true);
		setError(null);
		try {
			const channel = await api.openDirect(Number(person));
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
		<Modal opened={opened} onClose={close} title="New direct message" closeButtonProps={{ "aria-label": "Close" }}>
			<form onSubmit={(event) => void submit(event)} noValidate>
				<Stack>
					<Select
						label="Person"
						placeholder={directory.loaded ? "Type a name" : "Loading people…"}
						searchable
						required
						data={options}
						value={person}
						onChange={setPerson}
						nothingFoundMessage="No one by that name"
						comboboxProps={{ withinPortal: true }}
						data-autofocus
					/>
					{error && (
						<Alert color="red" role="alert">
							{error}
						</Alert>
					)}
					<Group justify="flex-end">
						<Button variant="default" onClick={close}>
							Cancel
						</Button>
						<Button type="submit" loading={busy} disabled={!person}>
							Open conversation
						</Button>
					</Group>
				</Stack>
			</form>
		</Modal>
	);
}
