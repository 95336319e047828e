import { Button, Loader } from "@mantine/core";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from "react";
import classes from "./chat.module.css";
import type { Row } from "./rows";

/** Closer than this to the top, the next older page is asked for. */
const LOAD_AHEAD_PX = 600;
/** Within this of the bottom, the newest message counts as seen and new ones keep the list at the bottom. */
const AT_END_PX = 48;

function estimate(row: Row | undefined): number {
	switch (row?.kind) {
		case "intro":
			return 72;
		case "message":
			return (row.compact ? 28 : 64) + (row.day ? 36 : 0);
		default:
			return 64;
	}
}

export interface MessageListProps {
	/** The accessible name of the log, e.g. "Messages in #general". */
	label: string;
	rows: Row[];
	renderRow(row: Row): ReactNode;
	hasOlder: boolean;
	loadingOlder: boolean;
	onLoadOlder(): void;
	/** The newest row is in view (called again as new ones arrive while it is). */
	onReachEnd(): void;
	/** Changing it scrolls to the newest message, e.g. after sending one. */
	scrollToEndSignal?: number;
}

/**
 * A chat's messages, newest at the bottom, virtualised: only the rows in and near the viewport are in the DOM, so
 * ten thousand messages scroll like fifty. Scrolling near the top asks for older messages, and the rows in view stay
 * where they are when those arrive; new messages keep the list at the bottom only if it was there.
 */
export function MessageList({ label, rows, renderRow, hasOlder, loadingOlder, onLoadOlder, onReachEnd, scrollToEndSignal }: MessageListProps) {
	const scrollRef = useRef<HTMLDivElement>(null);
	const [farFromEnd, setFarFromEnd] = useState(false);
	const getItemKey = useCallback((index: number) => rows[index]?.key ?? index, [rows]);
	const estimateSize = useCallback((index: number) => estimate(rows[index]), [rows]);
	const virtualizer = useVirtualizer({
		count: rows.length,
		getScrollElement: () => scrollRef.current,
		estimateSize,
		getItemKey,
		overscan: 8,
		paddingEnd: 8,
		anchorTo: "end",
		followOnAppend: true,
		scrollEndThreshold: AT_END_PX,
	});

	/** The list was at the bottom when last looked at. */
	const pinned = useRef(true);
	const opened = useRef(false);
	const latest = useRef({ hasOlder, loadingOlder, onLoadOlder, onReachEnd });
	latest.current = { hasOlder, loadingOlder, onLoadOlder, onReachEnd };

	const check = useCallback(() => {
		const element = scrollRef.current;
		if (!element) return;
		const { hasOlder: older, loadingOlder: loading } = latest.current;
		const total = virtualizer.getTotalSize();
		const distanceFromEnd = total - element.scrollTop - element.clientHeight;
		// Near the top, or the messages do not fill the view yet: older ones are wanted.
		if (older && !loading && (element.scrollTop < LOAD_AHEAD_PX || total <= element.clientHeight)) latest.current.onLoadOlder();
		pinned.current = distanceFromEnd <= AT_END_PX;
		if (pinned.current) latest.current.onReachEnd();
		setFarFromEnd(distanceFromEnd > element.clientHeight);
	}, [virtualizer]);

	// At the bottom, the list stays there when rows change: a new message, a pending one replaced by the stored one,
	// the assistant's answer taking the place of its stream.
	useLayoutEffect(() => {
		if (opened.current && pinned.current) virtualizer.scrollToEnd();
	}, [rows, virtualizer]);

	// The first rows open at the bottom, where the newest messages are.
	useLayoutEffect(() => {
		if (opened.current || rows.length === 0) return;
		opened.current = true;
		virtualizer.scrollToEnd();
	}, [rows.length, virtualizer]);

	useEffect(() => {
		if (scrollToEndSignal) virtualizer.scrollToEnd();
	}, [scrollToEndSignal, virtualizer]);

	// After every change of the rows: fill the view, count the newest as seen if it shows.
	useEffect(() => {
		check();
	}, [rows, hasOlder, loadingOlder, check]);

	const items = virtualizer.getVirtualItems();
	return (
		<>
			<div ref={scrollRef} className={classes.log} role="log" aria-label={label} aria-busy={loadingOlder || undefined} tabIndex={0} onScroll={check}>
				<div style={{ height: virtualizer.getTotalSize(), position: "relative", width: "100%" }}>
					{items.map((item) => (
						<div
							key={item.key}
							data-index={item.index}
							ref={virtualizer.measureElement}
							style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${item.start}px)` }}
						>
							{renderRow(rows[item.index])}
						</div>
					))}
				</div>
			</div>
			{loadingOlder && (
				<div className={classes.loadingOlder}>
					<Loader size="sm" aria-label="Loading older messages" />
				</div>
			)}
			{farFromEnd && (
				<Button className={classes.jump} size="xs" radius="xl" variant="default" onClick={() => virtualizer.scrollToEnd()}>
					Jump to the newest messages
				</Button>
			)}
		</>
	);
}
