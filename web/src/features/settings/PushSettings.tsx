import { Alert, Button, Group, Stack, Text, Title } from "@mantine/core";
import { useEffect, useState } from "react";
import { reasonOf } from "../../lib/errors";
import { currentPushSubscription, disablePush, enablePush, pushAvailability, type PushAvailability } from "../../lib/push";
import { api } from "../../lib/session";

type Subscribed = boolean | undefined;

/** Web Push for this browser: on with the person's permission, off again on request. */
export function PushSettings() {
	const [availability, setAvailability] = useState<PushAvailability>(() => pushAvailability());
	const [subscribed, setSubscribed] = useState<Subscribed>(undefined);
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const [status, setStatus] = useState("");

	useEffect(() => {
		let cancelled = false;
		currentPushSubscription()
			.then((subscription) => !cancelled && setSubscribed(subscription !== null))
			.catch(() => !cancelled && setSubscribed(false));
		return () => {
			cancelled = true;
		};
	}, []);

	const run = async (work: () => Promise<unknown>, done: string, next: boolean) => {
		setBusy(true);
		setError(null);
		setStatus("");
		try {
			await work();
			setSubscribed(next);
			setStatus(done);
		} catch (err) {
			setError(reasonOf(err));
		} finally {
			setAvailability(pushAvailability());
			setBusy(false);
		}
	};

	return (
		<Stack gap="sm" component="section" aria-labelledby="push-title">
			<Title order={2} size="h3" id="push-title">
				Browser notifications
			</Title>
			<Text size="sm" c="dimmed">
				Colony pushes notifications to this browser while you have no Colony tab open, on the kinds with Push switched on above.
			</Text>
			{availability === "unsupported" ? (
				<Alert color="gray" role="status">
					This browser cannot receive push notifications here. They need a browser with Web Push, on a secure (https) address.
				</Alert>
			) : (
				<>
					<Text size="sm" role="status">
						{status ||
							(subscribed === undefined
								? ""
								: subscribed
									? "Browser notifications are on for this browser."
									: availability === "denied"
										? "This browser blocks notifications from Colony: allow them in the site's settings first."
										: "Browser notifications are off for this browser.")}
					</Text>
					<Group>
						{subscribed ? (
							<Button variant="default" loading={busy} onClick={() => void run(() => disablePush(api), "Browser notifications are off for this browser.", false)}>
								Turn off browser notifications
							</Button>
						) : (
							<Button loading={busy} disabled={subscribed === undefined} onClick={() => void run(() => enablePush(api), "Browser notifications are on for this browser.", true)}>
								Enable browser notifications
							</Button>
						)}
					</Group>
				</>
			)}
			{error && (
				<Alert color="red" role="alert">
					{error}
				</Alert>
			)}
		</Stack>
	);
}
