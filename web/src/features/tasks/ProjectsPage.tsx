import type { NewProject, PublicUser } from "@colony/client";
import type { ProjectView } from "@colony/types/tasks";
import { Alert, Anchor, Badge, Button, Card, Group, Modal, MultiSelect, SimpleGrid, Stack, Switch, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { reasonOf } from "../../lib/errors";
import { api, useMe } from "../../lib/session";
import { mayWriteTasks, roleOf } from "./model";
import { keys, useUsers } from "./queries";
import { Loading, readableDescription } from "./TaskBits";
import classes from "./tasks.module.css";

const ROLE_NAMES = { admin: "Admin", member: "Member", viewer: "Viewer" } as const;

/** The projects the signed-in person is a member of, and a way to start one. */
export default function ProjectsPage() {
	const me = useMe();
	const [creating, setCreating] = useState(false);
	const projects = useQuery({ queryKey: keys.projects, queryFn: () => api.listProjects() });

	return (
		<Stack p="md" gap="md">
			<Group justify="space-between">
				<Title order={1}>Projects</Title>
				{mayWriteTasks(me) && <Button onClick={() => setCreating(true)}>New project</Button>}
			</Group>
			{projects.isPending ? (
				<Loading page label="Loading your projects" />
			) : projects.isError ? (
				<Alert color="red" role="alert" title="Your projects could not be loaded">
					{reasonOf(projects.error)}
				</Alert>
			) : projects.data.length === 0 ? (
				<Stack gap="xs" align="flex-start">
					<Text>You are not in any project yet.</Text>
					<Text size="sm">Start one for your team's work: it gets a board with Backlog, Todo, In progress, In review and Done.</Text>
				</Stack>
			) : (
				<SimpleGrid component="ul" cols={{ base: 1, sm: 2, lg: 3 }} className={classes.plainList} aria-label="Your projects">
					{projects.data.map((project) => (
						<li key={project.id}>
							<ProjectCard project={project} me={me} />
						</li>
					))}
				</SimpleGrid>
			)}
			<NewProjectDialog opened={creating} onClose={() => setCreating(false)} />
		</Stack>
	);
}

function ProjectCard({ project, me }: { project: ProjectView; me: PublicUser }) {
	const role = roleOf(project, me);
	const count = project.members.length;
	return (
		<Card withBorder padding="md" h="100%">
			<Stack gap="xs">
				<Title order={2} size="h4">
					<Anchor component={Link} to={`/projects/${project.id}`} c="var(--mantine-color-text)" inherit>
						{project.name}
					</Anchor>
				</Title>
				{project.description && (
					<Text size="sm" lineClamp={3}>
						{project.description}
					</Text>
				)}
				<Group gap="xs">
					<Text size="xs">
						{count} {count === 1 ? "member" : "members"}
					</Text>
					{role && (
						<Badge variant="default" size="sm" tt="none">
							{ROLE_NAMES[role]}
						</Badge>
					)}
					{project.autoApplyTriage && (
						<Badge variant="default" size="sm" tt="none">
							AI triage applied automatically
						</Badge>
					)}
				</Group>
			</Stack>
		</Card>
	);
}

function NewProjectDialog({ opened, onClose }: { opened: boolean; onClose(): void }) {
	const me = useMe();
	const navigate = useNavigate();
	const queryClient = useQueryClient();
	const { users } = useUsers();
	const [name, setName] = useState("");
	const [description, setDescription] = useState("");
	const [members, setMembers] = useState<string[]>([]);
	const [autoApplyTriage, setAutoApplyTriage] = useState(false);
	const [nameError, setNameError] = useState<string | null>(null);
	const switchHelpId = useId();

	const create = useMutation({
		mutationFn: (project: NewProject) => api.createProject(project),
		onSuccess: (project) => {
			queryClient.setQueryData<ProjectView[]>(keys.projects, (current) => (current ? [...current.filter((item) => item.id !== project.id), project] : current));
			void queryClient.invalidateQueries({ queryKey: keys.projects });
			queryClient.setQueryData(keys.project(project.id), project);
			reset();
			onClose();
			navigate(`/projects/${project.id}`);
		},
	});

	function reset() {
		setName("");
		setDescription("");
		setMembers([]);
		setAutoApplyTriage(false);
		setNameError(null);
	}

	const close = () => {
		create.reset();
		setNameError(null);
		onClose();
	};

	const submit = (event: FormEvent) => {
		event.preventDefault();
		if (!name.trim()) {
			setNameError("Give the project a name.");
			return;
		}
		setNameError(null);
		create.mutate({
			name: name.trim(),
			...(description.trim() ? { description: description.trim() } : {}),
			members: members.map(Number),
			autoApplyTriage,
		});
	};

	const people = users
		.filter((user) => user.id !== me.id && !user.assistant)
		.map((user) => ({ value: String(user.id), label: `${user.displayName} (@${user.username})` }))
		.sort((a, b) => a.label.localeCompare(b.label));

	return (
		<Modal opened={opened} onClose={close} title="New project" size="lg" closeButtonProps={{ "aria-label": "Close the new project dialog" }}>
			<form onSubmit={submit} noValidate>
				<Stack>
					<TextInput label="Name" required maxLength={120} value={name} onChange={(event) => setName(event.currentTarget.value)} error={nameError} data-autofocus />
					<Textarea label="Description" autosize minRows={2} maxRows={8} value={description} onChange={(event) => setDescription(event.currentTarget.value)} />
					<MultiSelect
						label="Members"
						description="You are the project's admin; the people you add are members."
						styles={readableDescription}
						data={people}
						value={members}
						onChange={setMembers}
						searchable
						nothingFoundMessage="No one by that name"
						hidePickedOptions
						// A plain list, not a scroll area: the options are reached with the arrow keys from the input.
						withScrollArea={false}
						maxDropdownHeight={260}
					/>
					<Stack gap={4}>
						<Switch
							label="Apply AI triage automatically"
							aria-describedby={switchHelpId}
							checked={autoApplyTriage}
							onChange={(event) => setAutoApplyTriage(event.currentTarget.checked)}
						/>
						<Text size="xs" id={switchHelpId}>
							New tasks get the AI's suggested priority and labels where their creator left none.
						</Text>
					</Stack>
					{create.isError && (
						<Alert color="red" role="alert" title="The project was not created">
							{reasonOf(create.error)}
						</Alert>
					)}
					<Group justify="flex-end">
						<Button variant="default" onClick={close}>
							Cancel
						</Button>
						<Button type="submit" loading={create.isPending}>
							Create project
						</Button>
					</Group>
				</Stack>
			</form>
		</Modal>
	);
}
