import { Center, Loader, VisuallyHidden } from "@mantine/core";

export function ScreenLoader({ label = "Loading" }: { label?: string }) {
	return (
		<Center p="xl" role="status">
			<Loader />
			<VisuallyHidden>{label}</VisuallyHidden>
		</Center>
	);
}
