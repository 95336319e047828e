import type { ChannelView } from "@colony/client";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { reasonOf } from "../../lib/errors";
import { chatKeys } from "./data";

/**
 * What the new-channel and new-conversation dialogs share: make the channel, refresh the sidebar, open it;
 * the server's reason stays in `error` when it refuses.
 */
export function useChannelOpener(onOpened: () => void) {
	const queryClient = useQueryClient();
	const navigate = useNavigate();
	const [error, setError] = useState<string | null>(null);
	const [busy, setBusy] = useState(false);

	const open = async (create: () => Promise<ChannelView>) => {
		if (busy) return;
		setBusy(true);
		setError(null);
		try {
			const channel = await create();
			await queryClient.invalidateQueries({ queryKey: chatKeys.channels });
			void queryClient.invalidateQueries({ queryKey: chatKeys.unread });
			onOpened();
			navigate(`/channels/${channel.id}`);
		} catch (err) {
			setError(reasonOf(err));
		} finally {
			setBusy(false);
		}
	};
	return { open, busy, error, clearError: () => setError(null) };
}
