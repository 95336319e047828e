import { Alert, Button, Group, Modal, Select, Stack } from "@mantine/core";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { api, useMe } from "../../lib/session";
import { useDirectory } from "./data";
import { useChannelOpener } from "./useChannelOpener";

/** Opens the direct conversation with someone (the same one every time). */
export default function NewDirectMessageDialog({ opened, onClose }: { opened: boolean; onClose: () => void }) {
	const me = useMe();
	const directory = useDirectory();
	const [person, setPerson] = useState<string | null>(null);

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
		opener.clearError();
		onClose();
	};
	const opener = useChannelOpener(close);

	const submit = (event: FormEvent) => {
		event.preventDefault();
		if (person) void opener.open(() => api.openDirect(Number(person)));
	};


	return (
		<Modal opened={opened} onClose={close} title="New direct message" closeButtonProps={{ "aria-label": "Close" }}>
			<form onSubmit={submit} noValidate>
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
					{opener.error && (
						<Alert color="red" role="alert">
							{opener.error}
						</Alert>
					)}
					<Group justify="flex-end">
						<Button variant="default" onClick={close}>
							Cancel
						</Button>
						<Button type="submit" loading={opener.busy} disabled={!person}>
							Open conversation
						</Button>
					</Group>
				</Stack>
			</form>
		</Modal>
	);
}
