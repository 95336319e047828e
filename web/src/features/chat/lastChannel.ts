/** The channel each person saw last in this browser, so `/channels` takes them back to it. */
const key = (userId: number) => `colony.chat.lastChannel.${userId}`;

export function lastChannelOf(userId: number): number | null {
	try {
		const value = Number(window.localStorage.getItem(key(userId)));
		return Number.isInteger(value) && value > 0 ? value : null;
	} catch {
		return null;
	}
}

export function rememberChannel(userId: number, channelId: number): void {
	try {
		window.localStorage.setItem(key(userId), String(channelId));
	} catch {
		// Storage full or disabled: the first channel will do.
	}
}
