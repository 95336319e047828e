import type { AiHostStatus } from "@colony/types/ai";
import { Alert, Badge, Card, Group, Loader, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { reasonOf } from "../../lib/errors";
import { api } from "../../lib/session";
import { useScreenTitle } from "../notifications/screen-title";
import { fullTime, relativeTime } from "../notifications/time";
import classes from "./Admin.module.css";
import { AdminOnly } from "./AdminOnly";

export type HostView = AiHostStatus & { usable: boolean };

const REFRESH_MS = 3_000;

function formatBytes(bytes: number): string {
	if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
	if (bytes >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)} MiB`;
	return `${bytes} B`;
}

function formatMb(mb: number): string {
	return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GiB` : `${mb} MiB`;
}

function secondsAgo(epochMs: number, now: number): string {
	const seconds = Math.max(0, Math.round((now - epochMs) / 1000));
	return seconds < 60 ? `${seconds} s ago` : relativeTime(new Date(epochMs).toISOString(), now);
}

function Health({ host }: { host: HostView }) {
	if (!host.healthy) return <Badge color="red">Unhealthy</Badge>;
	if (!host.usable) return <Badge color="yellow">Not taking requests</Badge>;
	return <Badge color="teal">Healthy</Badge>;
}

function HostCard({ host, now }: { host: HostView; now: number }) {
	const titleId = `host-${host.nodeID.replace(/[^A-Za-z0-9_-]/g, "-")}`;
	return (
		<Card withBorder component="section" aria-labelledby={titleId} padding="md">
			<Stack gap="sm">
				<Group justify="space-between" wrap="nowrap">
					<Title order={2} size="h4" id={titleId} style={{ overflowWrap: "anywhere" }}>
						{host.nodeID}
					</Title>
					<Health host={host} />
				</Group>
				{host.problem && (
					<Text size="sm" c="red">
						{host.problem}
					</Text>
				)}
				{host.checkedAt > 0 ? (
					<Text size="xs" c="dimmed" title={fullTime(new Date(host.checkedAt).toISOString())}>
						Checked {secondsAgo(host.checkedAt, now)}
					</Text>
				) : (
					<Text size="xs" c="dimmed">
						Not checked yet
					</Text>
				)}

				<SimpleGrid cols={3} component="dl" className={classes.facts} spacing="xs">
					<div>
						<dt>Running</dt>
						<dd>
							{host.inFlight} of {host.parallel} slots
						</dd>
					</div>
					<div>
						<dt>Waiting</dt>
						<dd>{host.queued}</dd>
					</div>
					<div>
						<dt>Installed models</dt>
						<dd>{host.models.length}</dd>
					</div>
					<div>
						<dt>Chat model</dt>
						<dd>{host.defaultModel}</dd>
					</div>
					<div>
						<dt>Embedding model</dt>
						<dd>{host.embedModel}</dd>
					</div>
				</SimpleGrid>

				<Title order={3} size="h6">
					Loaded models
				</Title>
				{host.loaded.length === 0 ? (
					<Text size="sm" c="dimmed">
						None in memory.
					</Text>
				) : (
					<Table fz="sm" verticalSpacing={4} aria-label={`Models loaded on ${host.nodeID}`}>
						<Table.Thead>
							<Table.Tr>
								<Table.Th scope="col">Model</Table.Th>
								<Table.Th scope="col">GPU memory</Table.Th>
								<Table.Th scope="col">Unloads</Table.Th>
							</Table.Tr>
						</Table.Thead>
						<Table.Tbody>
							{host.loaded.map((model) => (
								<Table.Tr key={model.name}>
									<Table.Td style={{ overflowWrap: "anywhere" }}>{model.name}</Table.Td>
									<Table.Td>{formatBytes(model.sizeVram)}</Table.Td>
									<Table.Td>{model.expiresAt ? new Date(model.expiresAt).toLocaleTimeString(undefined, { timeStyle: "short" }) : "Kept"}</Table.Td>
								</Table.Tr>
							))}
						</Table.Tbody>
					</Table>
				)}

				<Title order={3} size="h6">
					GPUs
				</Title>
				{!host.gpus || host.gpus.length === 0 ? (
					<Text size="sm" c="dimmed">
						Not reported (no nvidia-smi on this host).
					</Text>
				) : (
					<Stack gap="xs">
						{host.gpus.map((gpu, index) => {
							const used = gpu.memoryTotalMb > 0 ? Math.round((gpu.memoryUsedMb / gpu.memoryTotalMb) * 100) : 0;
							return (
								<Stack gap={2} key={`${gpu.name}-${index}`}>
									<Group justify="space-between" gap="xs">
										<Text size="sm" fw={500}>
											{gpu.name}
										</Text>
										<Text size="xs" c="dimmed">
											{formatMb(gpu.memoryUsedMb)} of {formatMb(gpu.memoryTotalMb)} · {gpu.utilizationPercent}% busy
										</Text>
									</Group>
									<Progress value={used} color={used > 90 ? "red" : "green"} aria-label={`GPU memory used on ${gpu.name} ${index + 1} of ${host.nodeID}`} />
								</Stack>
							);
						})}
					</Stack>
				)}
			</Stack>
		</Card>
	);
}

function Hosts() {
	const hosts = useQuery({
		queryKey: ["admin", "ai", "hosts"],
		queryFn: () => api.request<{ items: HostView[] }>("GET", "/ai/hosts"),
		refetchInterval: REFRESH_MS,
		staleTime: 0,
	});
	if (hosts.isPending) return <Loader aria-label="Loading the AI hosts" />;
	if (!hosts.data) {
		return (
			<Alert color="red" role="alert" title="The AI hosts could not be read">
				{reasonOf(hosts.error)}
			</Alert>
		);
	}
	const items = hosts.data.items;
	const healthy = items.filter((host) => host.healthy && host.usable).length;
	return (
		<Stack>
			<Text size="sm">
				{items.length === 0 ? "No AI host is running: start an ai node next to an Ollama." : `${healthy} of ${items.length} ${items.length === 1 ? "host" : "hosts"} answering.`}{" "}
				<Text span size="sm" c="dimmed">
					Refreshed every {REFRESH_MS / 1000} seconds.
				</Text>
			</Text>
			{hosts.isError && (
				<Alert color="yellow" role="alert">
					Showing what was read {secondsAgo(hosts.dataUpdatedAt, Date.now())}: {reasonOf(hosts.error)}
				</Alert>
			)}
			<SimpleGrid cols={{ base: 1, md: 2 }}>
				{items.map((host) => (
					<HostCard key={host.nodeID} host={host} now={hosts.dataUpdatedAt} />
				))}
			</SimpleGrid>
		</Stack>
	);
}

/** Each GPU host of the cluster: health, models in memory, GPU memory, requests running and waiting. */
export default function AiHostsPage() {
	useScreenTitle("AI hosts");
	return (
		<AdminOnly title="AI hosts">
			<Stack p="md" maw={1200}>
				<Title order={1}>AI hosts</Title>
				<Hosts />
			</Stack>
		</AdminOnly>
	);
}
