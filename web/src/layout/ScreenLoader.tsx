import { Center, Loader } from "@mantine/core";

export function ScreenLoader({ label = "Loading" }: { label?: string }) {
	return (
		<Center p="xl">
			<Loader aria-label={label} />
		</Center>
	);
}
