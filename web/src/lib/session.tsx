import { ColonyApiError, ColonyRestClient, WebSocketBridge, type BridgeEventName, type BridgeEvents, type PublicUser } from "@colony/client";
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { BrowserTokenStorage, refreshLock } from "./token-storage";

const tokens = new BrowserTokenStorage();
const sessionEnded = new EventTarget();

/** The REST client of this tab: one for the app's lifetime, whoever is signed in. */
export const api = new ColonyRestClient({
	baseUrl: window.location.origin,
	tokenStorage: tokens,
	refreshLock,
	onSessionEnded: (reason) => sessionEnded.dispatchEvent(new CustomEvent("ended", { detail: reason.message })),
});

interface SessionValue {
	/** undefined while the stored session is being checked. */
	user: PublicUser | null | undefined;
	bridge: WebSocketBridge | null;
	signIn(login: string, password: string): Promise<void>;
	signUp(input: { username: string; email: string; password: string; displayName?: string }): Promise<void>;
	signOut(): Promise<void>;
	/** Why the last session ended without the user signing out, to show on the sign-in page. */
	endedBecause: string | null;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
	const queryClient = useQueryClient();
	const [user, setUser] = useState<PublicUser | null | undefined>(undefined);
	const [bridge, setBridge] = useState<WebSocketBridge | null>(null);
	const [endedBecause, setEndedBecause] = useState<string | null>(null);
	const bridgeRef = useRef<WebSocketBridge | null>(null);

	const ended = useCallback(
		(reason: string | null) => {
			bridgeRef.current?.disconnect();
			bridgeRef.current = null;
			setBridge(null);
			setUser(null);
			setEndedBecause(reason);
			queryClient.clear();
		},
		[queryClient],
	);

	const begin = useCallback((signedIn: PublicUser) => {
		bridgeRef.current?.disconnect();
		// Messages typed while offline wait in this user's own outbox, across reloads.
		const next = new WebSocketBridge({ outboxStorage: window.localStorage, outboxKey: `colony.outbox.${signedIn.id}` });
		bridgeRef.current = next;
		setBridge(next);
		setUser(signedIn);
		setEndedBecause(null);
		void next.connect(window.location.origin, api.tokenProvider());
	}, []);

	useEffect(() => {
		let cancelled = false;
		api
			.isSignedIn()
			.then((signedIn) => (signedIn ? api.me() : null))
			.then((me) => {
				if (cancelled) return;
				if (me) begin(me);
				else setUser(null);
			})
			.catch(() => !cancelled && setUser(null));
		const unwatch = tokens.watch(() => ended("You signed out in another window."));
		const onEnded = (event: Event) => ended(`Your session ended: ${(event as CustomEvent<string>).detail}`);
		sessionEnded.addEventListener("ended", onEnded);
		return () => {
			cancelled = true;
			unwatch();
			sessionEnded.removeEventListener("ended", onEnded);
		};
	}, [begin, ended]);

	useEffect(() => {
		if (!bridge) return;
		return bridge.on("session.ended", (event) => ended(event.reason));
	}, [bridge, ended]);

	const value = useMemo<SessionValue>(
		() => ({
			user,
			bridge,
			endedBecause,
			async signIn(login, password) {
				begin(await api.login(login, password));
			},
			async signUp(input) {
				await api.register(input);
				begin(await api.login(input.username, input.password));
			},
			async signOut() {
				await api.logout().catch((err: unknown) => {
					if (!(err instanceof ColonyApiError)) throw err;
				});
				ended(null);
			},
		}),
		[user, bridge, endedBecause, begin, ended],
	);
	return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
	const value = useContext(SessionContext);
	if (!value) throw new Error("useSession outside SessionProvider");
	return value;
}

/** The signed-in user; only for screens behind the sign-in. */
export function useMe(): PublicUser {
	const { user } = useSession();
	if (!user) throw new Error("useMe without a signed-in user");
	return user;
}

/** Listens to a socket event while the component is mounted. */
export function useBridgeEvent<E extends BridgeEventName>(event: E, listener: (payload: BridgeEvents[E]) => void): void {
	const { bridge } = useSession();
	const latest = useRef(listener);
	latest.current = listener;
	useEffect(() => {
		if (!bridge) return;
		return bridge.on(event, (payload) => latest.current(payload));
	}, [bridge, event]);
}
