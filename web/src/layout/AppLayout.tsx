import { ActionIcon, Anchor, AppShell, Burger, Group, Menu, NavLink, ScrollArea, Stack, Text, Title, UnstyledButton, useComputedColorScheme, useMantineColorScheme } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Suspense } from "react";
import { Link, NavLink as RouterNavLink, Outlet, useNavigate } from "react-router";
import { ChannelNav } from "../features/chat/ChannelNav";
import { NotificationBell } from "../features/notifications/NotificationBell";
import { useMe, useSession } from "../lib/session";
import { OfflineBanner } from "./OfflineBanner";
import { ScreenLoader } from "./ScreenLoader";

function ColorSchemeToggle() {
	const { setColorScheme } = useMantineColorScheme();
	const scheme = useComputedColorScheme("light");
	const next = scheme === "dark" ? "light" : "dark";
	return (
		<ActionIcon variant="default" size="lg" onClick={() => setColorScheme(next)} aria-label={`Switch to the ${next} theme`}>
			<span aria-hidden="true">{scheme === "dark" ? "☀" : "☾"}</span>
		</ActionIcon>
	);
}

function UserMenu() {
	const me = useMe();
	const { signOut } = useSession();
	const navigate = useNavigate();
	return (
		<Menu position="bottom-end" withinPortal withInitialFocusPlaceholder={false}>
			<Menu.Target>
				<UnstyledButton aria-label={`Account of ${me.displayName}`} px="xs">
					<Text fw={600} size="sm">
						{me.displayName}
					</Text>
				</UnstyledButton>
			</Menu.Target>
			<Menu.Dropdown>
				<Menu.Label>@{me.username}</Menu.Label>
				<Menu.Item onClick={() => navigate("/settings/notifications")}>Notification preferences</Menu.Item>
				<Menu.Item
					color="red"
					onClick={() => {
						void signOut().then(() => navigate("/signin"));
					}}
				>
					Sign out
				</Menu.Item>
			</Menu.Dropdown>
		</Menu>
	);
}

function SectionLink({ to, label }: { to: string; label: string }) {
	return <NavLink component={RouterNavLink} to={to} label={label} variant="filled" />;
}

/** The frame of every screen behind the sign-in: header, the sidebar of channels and sections, the screen. */
export function AppLayout() {
	const me = useMe();
	const [opened, { toggle, close }] = useDisclosure();
	const isAdmin = me.roles.includes("admin");
	return (
		<AppShell header={{ height: 56 }} navbar={{ width: 280, breakpoint: "sm", collapsed: { mobile: !opened } }} padding={0}>
			<a className="skip-link" href="#main">
				Skip to content
			</a>
			<AppShell.Header>
				<Group h="100%" px="md" justify="space-between" wrap="nowrap">
					<Group gap="sm" wrap="nowrap">
						<Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={opened ? "Close navigation" : "Open navigation"} />
						<Anchor component={Link} to="/channels" underline="never" c="inherit">
							<Title order={2} size="h4">
								Colony
							</Title>
						</Anchor>
					</Group>
					<Group gap="xs" wrap="nowrap">
						<NotificationBell />
						<ColorSchemeToggle />
						<UserMenu />
					</Group>
				</Group>
			</AppShell.Header>
			<AppShell.Navbar aria-label="Navigation">
				<ScrollArea type="auto" onClick={close}>
					<Stack gap={0} py="xs">
						<ChannelNav />
						<Text size="xs" fw={700} c="dimmed" tt="uppercase" px="md" pt="md" pb={4}>
							Work
						</Text>
						<SectionLink to="/projects" label="Projects" />
						<SectionLink to="/knowledge" label="Knowledge" />
						<SectionLink to="/notifications" label="Notifications" />
						{isAdmin && (
							<>
								<Text size="xs" fw={700} c="dimmed" tt="uppercase" px="md" pt="md" pb={4}>
									Administration
								</Text>
								<SectionLink to="/admin/users" label="Users and roles" />
								<SectionLink to="/admin/ai" label="AI hosts" />
							</>
						)}
					</Stack>
				</ScrollArea>
			</AppShell.Navbar>
			<AppShell.Main id="main" tabIndex={-1}>
				<OfflineBanner />
				<Suspense fallback={<ScreenLoader />}>
					<Outlet />
				</Suspense>
			</AppShell.Main>
		</AppShell>
	);
}
