import type { ChannelListItem, ChannelView, MessageView, PresenceStatus, PublicUser, UnreadView } from "@colony/client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useMemo } from "react";
import { api, useBridgeEvent } from "../../lib/session";

/** The chat's server state in the query cache, shared by the sidebar and the screens. */
export const chatKeys = {
	channels: ["chat", "channels"] as const,
	unread: ["chat", "unread"] as const,
	directory: ["users", "directory"] as const,
	presenceAll: ["chat", "presence"] as const,
	presence: (ids: string) => ["chat", "presence", ids] as const,
	channel: (id: number) => ["chat", "channel", id] as const,
};

/** Public channels and the caller's own (private, direct), with whether the caller is a member. */
export function useChannels() {
	return useQuery({ queryKey: chatKeys.channels, queryFn: () => api.listChannels() });
}

export function useUnread() {
	return useQuery({ queryKey: chatKeys.unread, queryFn: () => api.unread() });
}

export interface Directory {
	list: PublicUser[];
	byId: Map<number, PublicUser>;
	loaded: boolean;
	refetch(): void;
}

const USERS_PAGE = 100;
const MAX_USER_PAGES = 100;

async function loadDirectory(): Promise<PublicUser[]> {
	const users: PublicUser[] = [];
	let cursor: string | undefined;
	for (let page = 0; page < MAX_USER_PAGES; page++) {
		const answer = await api.request<{ items: PublicUser[]; nextCursor: string | null }>("GET", "/users", { query: { limit: USERS_PAGE, cursor } });
		users.push(...answer.items);
		if (!answer.nextCursor) break;
		cursor = answer.nextCursor;
	}
	return users;
}

/** Everyone on this Colony: names for authors and direct messages, and `@` suggestions. */
export function useDirectory(): Directory {
	const query = useQuery({ queryKey: chatKeys.directory, queryFn: loadDirectory, staleTime: 5 * 60_000 });
	const { data, isSuccess, refetch } = query;
	const refetchDirectory = useCallback(() => void refetch(), [refetch]);
	return useMemo(() => {
		const list = data ?? [];
		return { list, byId: new Map(list.map((user) => [user.id, user])), loaded: isSuccess, refetch: refetchDirectory };
	}, [data, isSuccess, refetchDirectory]);
}

export function displayName(users: Map<number, PublicUser>, userId: number): string {
	return users.get(userId)?.displayName ?? "Unknown user";
}

/** The other person of a direct channel (oneself in a conversation with oneself). */
export function otherMember(channel: Pick<ChannelView, "memberIds">, meId: number): number | undefined {
	const ids = channel.memberIds ?? [];
	return ids.find((id) => id !== meId) ?? ids[0];
}

/** A channel's name as people read it: the channel's name, or the other person's name in a direct message. */
export function channelName(channel: ChannelView, meId: number, users: Map<number, PublicUser>): string {
	if (channel.type !== "direct") return channel.name ?? `channel ${channel.id}`;
	const other = otherMember(channel, meId);
	if (other === undefined) return "Direct message";
	const name = users.get(other)?.displayName ?? "Direct message";
	return other === meId ? `${name} (you)` : name;
}

/** The channels in the sidebar's order: channels by name, then direct messages by the other person's name. */
export function memberChannels(channels: ChannelListItem[] | undefined, meId: number, users: Map<number, PublicUser>) {
	const mine = (channels ?? []).filter((channel) => channel.member);
	const byName = (a: ChannelView, b: ChannelView) => channelName(a, meId, users).localeCompare(channelName(b, meId, users));
	return {
		rooms: mine.filter((channel) => channel.type !== "direct").sort(byName),
		direct: mine.filter((channel) => channel.type === "direct").sort(byName),
	};
}

/** Replaces the counts of the channels in `items`, keeping the others. */
export function mergeUnread(old: UnreadView[] | undefined, items: UnreadView[]): UnreadView[] | undefined {
	if (!old) return old;
	const next = new Map(old.map((item) => [item.channelId, item]));
	for (const item of items) next.set(item.channelId, item);
	return [...next.values()];
}

/** A new message counts as unread for everyone but its author; sending moves one's own read marker past it. */
export function countMessage(old: UnreadView[] | undefined, message: MessageView, meId: number): UnreadView[] | undefined {
	if (!old || message.deletedAt) return old;
	const current = old.find((item) => item.channelId === message.channelId) ?? { channelId: message.channelId, unread: 0, mentions: 0 };
	const next: UnreadView =
		message.userId === meId
			? { channelId: message.channelId, unread: 0, mentions: 0 }
			: { channelId: message.channelId, unread: current.unread + 1, mentions: current.mentions + (message.mentions.includes(meId) ? 1 : 0) };
	return mergeUnread(old, [next]);
}

const PRESENCE_BATCH = 200;

/** The presence of these people, kept up to date by the socket's `presence` events. */
export function usePresence(ids: readonly number[]): Record<number, PresenceStatus> {
	const key = useMemo(() => [...new Set(ids)].sort((a, b) => a - b).join(","), [ids]);
	const queryClient = useQueryClient();
	const query = useQuery({
		queryKey: chatKeys.presence(key),
		enabled: key !== "",
		staleTime: 60_000,
		queryFn: async () => {
			const all = key.split(",");
			const statuses: Record<number, PresenceStatus> = {};
			for (let start = 0; start < all.length; start += PRESENCE_BATCH) {
				const answer = await api.request<{ items: { userId: number; status: PresenceStatus }[] }>("GET", "/presence", {
					query: { ids: all.slice(start, start + PRESENCE_BATCH).join(",") },
				});
				for (const item of answer.items) statuses[item.userId] = item.status;
			}
			return statuses;
		},
	});
	useBridgeEvent("presence", ({ userId, status }) => {
		queryClient.setQueriesData<Record<number, PresenceStatus>>({ queryKey: chatKeys.presenceAll }, (old) =>
			old && userId in old && old[userId] !== status ? { ...old, [userId]: status } : old,
		);
	});
	return query.data ?? EMPTY_PRESENCE;
}

const EMPTY_PRESENCE: Record<number, PresenceStatus> = {};

export const PRESENCE_TEXT: Record<PresenceStatus, string> = {
	online: "online",
	away: "away",
	offline: "offline",
	unknown: "presence unknown",
};
