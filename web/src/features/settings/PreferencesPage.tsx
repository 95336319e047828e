import type { PreferencesChange } from "@colony/client";
import type { NotificationPreferences } from "@colony/types/notifications";
import { NOTIFICATION_TYPES } from "@colony/types/notifications";
import { Alert, Button, Divider, Group, Loader, NumberInput, Select, SimpleGrid, Stack, Switch, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";
import { TYPE_LABELS } from "../notifications/labels";
import { useScreenTitle } from "../notifications/screen-title";
import { browserTimeZone, changesOf, CHANNELS, DIGEST_WINDOW_MAX, DIGEST_WINDOW_MIN, draftErrors, draftOf, timeZones, type DraftErrors, type PreferencesDraft } from "./draft";
import { PushSettings } from "./PushSettings";

const preferencesKey = ["notifications", "preferences"] as const;

function PreferencesForm({ saved }: { saved: NotificationPreferences }) {
	const queryClient = useQueryClient();
	const browserZone = useMemo(() => browserTimeZone(), []);
	const [draft, setDraft] = useState<PreferencesDraft>(() => draftOf(saved, browserZone));
	const [shownErrors, setShownErrors] = useState<DraftErrors>({});
	const [status, setStatus] = useState("");
	const zones = useMemo(() => timeZones(saved.timeZone, browserZone), [saved.timeZone, browserZone]);

	const save = useMutation({
		mutationFn: (change: PreferencesChange) => api.setNotificationPreferences(change),
		onSuccess: (stored) => {
			queryClient.setQueryData(preferencesKey, stored);
			setDraft(draftOf(stored, browserZone));
			setStatus("Your preferences are saved.");
		},
	});

	const change = (next: Partial<PreferencesDraft>) => {
		setDraft((current) => ({ ...current, ...next }));
		setStatus("");
	};

	const submit = (event: FormEvent) => {
		event.preventDefault();
		const errors = draftErrors(draft);
		setShownErrors(errors);
		setStatus("");
		if (Object.keys(errors).length > 0) return;
		save.mutate(changesOf(saved, draft));
	};

	const zoneFromBrowser = saved.timeZone !== draft.timeZone && draft.timeZone === browserZone;

	return (
		<form onSubmit={submit} noValidate aria-labelledby="preferences-title">
			<Stack gap="xl">
				<Stack gap="sm" component="section" aria-labelledby="channels-title">
					<Title order={2} size="h3" id="channels-title">
						What reaches you, and how
					</Title>
					<Text size="sm" c="dimmed">
						Turning off In app for a kind keeps no notification of it at all, so it is neither emailed nor pushed. Email and push reach you while you are not
						connected to Colony.
					</Text>
					<Table.ScrollContainer minWidth={420}>
						<Table verticalSpacing="xs" striped withTableBorder>
							<Table.Thead>
								<Table.Tr>
									<Table.Th scope="col">Notification</Table.Th>
									{CHANNELS.map((channel) => (
										<Table.Th scope="col" key={channel.key} ta="center">
											{channel.label}
										</Table.Th>
									))}
								</Table.Tr>
							</Table.Thead>
							<Table.Tbody>
								{NOTIFICATION_TYPES.map((type) => (
									<Table.Tr key={type}>
										<Table.Th scope="row" fw={500}>
											{TYPE_LABELS[type].kind}
										</Table.Th>
										{CHANNELS.map((channel) => (
											<Table.Td key={channel.key}>
												<Group justify="center">
													<Switch
														aria-label={`${channel.label} for ${TYPE_LABELS[type].kind}`}
														checked={draft.channels[type][channel.key]}
														onChange={(event) => {
															const checked = event.currentTarget.checked;
															change({ channels: { ...draft.channels, [type]: { ...draft.channels[type], [channel.key]: checked } } });
														}}
													/>
												</Group>
											</Table.Td>
										))}
									</Table.Tr>
								))}
							</Table.Tbody>
						</Table>
					</Table.ScrollContainer>
				</Stack>

				<Stack gap="sm" component="section" aria-labelledby="quiet-title">
					<Title order={2} size="h3" id="quiet-title">
						Time zone and quiet hours
					</Title>
					<Select
						label="Time zone"
						description={zoneFromBrowser ? "Taken from this browser: save to keep it." : "Quiet hours are read in this time zone."}
						data={zones}
						value={draft.timeZone}
						onChange={(value) => value && change({ timeZone: value })}
						searchable
						allowDeselect={false}
						nothingFoundMessage="No such time zone"
						maxDropdownHeight={280}
						error={shownErrors.timeZone}
						maw={420}
					/>
					<Stack gap={2}>
						<Switch label="Quiet hours" aria-describedby="quiet-hours-help" checked={draft.quietHours} onChange={(event) => change({ quietHours: event.currentTarget.checked })} />
						<Text size="xs" c="dimmed" id="quiet-hours-help">
							Nothing is delivered between these times; it all arrives when they end.
						</Text>
					</Stack>
					<SimpleGrid cols={{ base: 1, xs: 2 }} maw={420}>
						<TextInput
							type="time"
							step={60}
							label="Quiet hours start"
							value={draft.quietStart}
							onChange={(event) => change({ quietStart: event.currentTarget.value })}
							disabled={!draft.quietHours}
							error={draft.quietHours && shownErrors.quietStart}
						/>
						<TextInput
							type="time"
							step={60}
							label="Quiet hours end"
							value={draft.quietEnd}
							onChange={(event) => change({ quietEnd: event.currentTarget.value })}
							disabled={!draft.quietHours}
							error={draft.quietHours && shownErrors.quietEnd}
						/>
					</SimpleGrid>
				</Stack>

				<Stack gap="sm" component="section" aria-labelledby="digest-title">
					<Title order={2} size="h3" id="digest-title">
						Email digest
					</Title>
					<Stack gap={2}>
						<Switch label="Send a digest email" aria-describedby="digest-help" checked={draft.digest} onChange={(event) => change({ digest: event.currentTarget.checked })} />
						<Text size="xs" c="dimmed" id="digest-help">
							Comments, status changes and AI replies that come while you are away are gathered into one email. Off: each is mailed on its own.
						</Text>
					</Stack>
					<NumberInput
						label="Digest window (minutes)"
						description={`How long to gather before sending, from ${DIGEST_WINDOW_MIN} to ${DIGEST_WINDOW_MAX} minutes.`}
						min={DIGEST_WINDOW_MIN}
						max={DIGEST_WINDOW_MAX}
						step={5}
						allowDecimal={false}
						allowNegative={false}
						clampBehavior="none"
						value={draft.windowMinutes}
						onChange={(value) => change({ windowMinutes: value })}
						disabled={!draft.digest}
						error={shownErrors.windowMinutes}
						maw={260}
					/>
				</Stack>

				{save.error && (
					<Alert color="red" role="alert" title="The preferences were not saved">
						{reasonOf(save.error)}
					</Alert>
				)}
				<Group>
					<Button type="submit" loading={save.isPending}>
						Save preferences
					</Button>
					<Text size="sm" role="status">
						{status}
					</Text>
				</Group>
			</Stack>
		</form>
	);
}

/** Which notifications reach the person, by which channel and when; and Web Push for this browser. */
export default function PreferencesPage() {
	useScreenTitle("Notification preferences");
	const preferences = useQuery({ queryKey: preferencesKey, queryFn: () => api.notificationPreferences(), staleTime: Infinity });
	return (
		<Stack p="md" maw={860} gap="lg">
			<Title order={1} id="preferences-title">
				Notification preferences
			</Title>
			{preferences.isPending ? (
				<Loader aria-label="Loading your preferences" />
			) : preferences.isError ? (
				<Alert color="red" role="alert" title="Your preferences could not be loaded">
					<Stack gap="xs" align="flex-start">
						<Text size="sm">{reasonOf(preferences.error)}</Text>
						<Button size="compact-sm" variant="default" onClick={() => void preferences.refetch()}>
							Try again
						</Button>
					</Stack>
				</Alert>
			) : (
				<PreferencesForm saved={preferences.data} />
			)}
			<Divider />
			<PushSettings />
		</Stack>
	);
}
