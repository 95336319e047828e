import type { PublicUser } from "@colony/types/users";
import { Alert, Badge, Button, Checkbox, Group, Loader, Stack, Table, Text, Title, VisuallyHidden } from "@mantine/core";
import { useInfiniteQuery, useMutation, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useState } from "react";
import { reasonOf } from "../../lib/errors";
import { api, useMe } from "../../lib/session";
import { useScreenTitle } from "../notifications/screen-title";
import { AdminOnly } from "./AdminOnly";

type Role = PublicUser["roles"][number];
type UserPage = { items: PublicUser[]; nextCursor: string | null };

const ROLES: { value: Role; label: string; description: string }[] = [
	{ value: "admin", label: "Admin", description: "everything, users and AI hosts included" },
	{ value: "member", label: "Member", description: "channels, projects, knowledge" },
	{ value: "guest", label: "Guest", description: "where invited; adds no knowledge" },
];

const usersKey = ["admin", "users"] as const;

function setRoles(id: number, roles: Role[]): Promise<PublicUser> {
	return api.request<PublicUser>("PATCH", `/users/${id}/roles`, { body: { roles } });
}

function RolesCell({ user, isMe }: { user: PublicUser; isMe: boolean }) {
	const queryClient = useQueryClient();
	const [problem, setProblem] = useState<string | null>(null);
	const [status, setStatus] = useState("");
	const change = useMutation({
		mutationFn: (roles: Role[]) => setRoles(user.id, roles),
		onMutate: () => {
			setProblem(null);
			setStatus("");
		},
		onSuccess: (updated) => {
			queryClient.setQueryData<InfiniteData<UserPage>>(usersKey, (data) =>
				data ? { ...data, pages: data.pages.map((page) => ({ ...page, items: page.items.map((item) => (item.id === updated.id ? { ...item, ...updated } : item)) })) } : data,
			);
			setStatus(
				isMe && !updated.roles.includes("admin")
					? "Saved. You are no longer an admin: reload Colony to see what that changes."
					: `Saved: ${updated.roles.map((role) => ROLES.find((known) => known.value === role)?.label ?? role).join(", ")}.`,
			);
		},
		onError: (err) => setProblem(reasonOf(err)),
	});

	if (user.assistant) {
		return (
			<Text size="sm" c="dimmed">
				The assistant’s account has no roles to change.
			</Text>
		);
	}
	const name = `Roles of ${user.displayName}`;
	return (
		<Stack gap={4}>
			<Checkbox.Group
				label={<VisuallyHidden>{name}</VisuallyHidden>}
				value={user.roles}
				onChange={(value) => {
					// Not disabled while saving: a disabled box would drop the keyboard focus.
					if (change.isPending) return;
					const roles = ROLES.map((role) => role.value).filter((role) => value.includes(role));
					if (roles.length === 0) {
						setStatus("");
						setProblem("A user needs at least one role.");
						return;
					}
					change.mutate(roles);
				}}
			>
				<Group gap="md">
					{ROLES.map((role) => (
						<Checkbox key={role.value} value={role.value} label={role.label} />
					))}
				</Group>
			</Checkbox.Group>
			{problem && (
				<Text size="sm" c="red" role="alert">
					{problem}
				</Text>
			)}
			<Text size="xs" c="dimmed" role="status">
				{change.isPending ? "Saving…" : status}
			</Text>
		</Stack>
	);
}

function UsersTable() {
	const me = useMe();
	const users = useInfiniteQuery({
		queryKey: usersKey,
		queryFn: ({ pageParam }) => api.request<UserPage>("GET", "/users", { query: { limit: 100, cursor: pageParam ?? undefined } }),
		initialPageParam: null as string | null,
		getNextPageParam: (last) => last.nextCursor,
	});
	if (users.isPending) return <Loader aria-label="Loading the users" />;
	if (!users.data) {
		return (
			<Alert color="red" role="alert" title="The users could not be loaded">
				{reasonOf(users.error)}
			</Alert>
		);
	}
	const items = users.data.pages.flatMap((page) => page.items);
	return (
		<Stack>
			<Table.ScrollContainer minWidth={640}>
				<Table verticalSpacing="sm" striped>
					<Table.Caption>Changing a role takes effect at once, on the user’s open sessions too. The last admin keeps the admin role.</Table.Caption>
					<Table.Thead>
						<Table.Tr>
							<Table.Th scope="col">User</Table.Th>
							<Table.Th scope="col">Email</Table.Th>
							<Table.Th scope="col">Roles</Table.Th>
						</Table.Tr>
					</Table.Thead>
					<Table.Tbody>
						{items.map((user) => (
							<Table.Tr key={user.id}>
								<Table.Th scope="row" fw={400}>
									<Group gap="xs">
										<Text fw={600} size="sm">
											{user.displayName}
										</Text>
										{user.id === me.id && (
											<Badge size="xs" variant="light" color="gray">
												You
											</Badge>
										)}
										{user.assistant && (
											<Badge size="xs" variant="light" color="gray">
												Assistant
											</Badge>
										)}
									</Group>
									<Text size="xs" c="dimmed">
										@{user.username}
									</Text>
								</Table.Th>
								<Table.Td>
									<Text size="sm">{user.email ?? "—"}</Text>
								</Table.Td>
								<Table.Td>
									<RolesCell user={user} isMe={user.id === me.id} />
								</Table.Td>
							</Table.Tr>
						))}
					</Table.Tbody>
				</Table>
			</Table.ScrollContainer>
			{users.hasNextPage && (
				<Button variant="default" onClick={() => void users.fetchNextPage()} loading={users.isFetchingNextPage} style={{ alignSelf: "center" }}>
					Load more users
				</Button>
			)}
			{users.isFetchNextPageError && (
				<Alert color="red" role="alert">
					{reasonOf(users.error)}
				</Alert>
			)}
		</Stack>
	);
}

/** Every account and its roles, for admins to change. */
export default function UsersPage() {
	useScreenTitle("Users and roles");
	return (
		<AdminOnly title="Users and roles">
			<Stack p="md" maw={1100}>
				<Title order={1}>Users and roles</Title>
				<Text size="sm" c="dimmed">
					{ROLES.map((role) => `${role.label}: ${role.description}.`).join(" ")}
				</Text>
				<UsersTable />
			</Stack>
		</AdminOnly>
	);
}
