import { useEffect } from "react";

/** The tab's title while a screen is shown ("Knowledge · Colony"), and the previous one back when it goes. */
export function useScreenTitle(title: string): void {
	useEffect(() => {
		const previous = document.title;
		document.title = `${title} · Colony`;
		return () => {
			document.title = previous;
		};
	}, [title]);
}
