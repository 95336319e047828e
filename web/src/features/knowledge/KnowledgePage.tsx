import type { KnowledgeHit } from "@colony/types/knowledge";
import { Alert, Anchor, Button, FileInput, Group, Loader, Paper, Stack, Table, Text, Textarea, TextInput, Title, VisuallyHidden } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { reasonOf } from "../../lib/errors";
import { useMe } from "../../lib/session";
import { useScreenTitle } from "../notifications/screen-title";
import { AnswerView, Score } from "./AnswerView";
import { addDocument, ask, excerpt, explain, hitLink, knowledgeKeys, listDocuments, MAX_DOCUMENT_LENGTH, removeDocument, searchKnowledge } from "./api";

function Failure({ error }: { error: unknown }) {
	const { title, text } = explain(error);
	return (
		<Alert color="red" role="alert" title={title}>
			{text}
		</Alert>
	);
}

function AskPanel() {
	const [question, setQuestion] = useState("");
	const answer = useMutation({ mutationFn: (q: string) => ask(q) });
	const submit = (event: { preventDefault(): void }) => {
		event.preventDefault();
		if (question.trim()) answer.mutate(question.trim());
	};
	return (
		<Stack gap="sm" component="section" aria-labelledby="ask-title">
			<Title order={2} size="h3" id="ask-title">
				Ask the assistant
			</Title>
			<form onSubmit={submit}>
				<Stack gap="xs">
					<Textarea
						label="Question"
						description="The assistant answers from the documents and the channel messages you can read, and names its sources."
						autosize
						minRows={2}
						maxRows={8}
						maxLength={2_000}
						value={question}
						onChange={(event) => setQuestion(event.currentTarget.value)}
						onKeyDown={(event) => {
							if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
						}}
					/>
					<Group>
						<Button type="submit" loading={answer.isPending} disabled={!question.trim()}>
							Ask
						</Button>
						{answer.isPending && (
							<Text size="sm" c="dimmed" role="status">
								The assistant is reading and writing…
							</Text>
						)}
					</Group>
				</Stack>
			</form>
			{answer.error && <Failure error={answer.error} />}
			{answer.data && !answer.isPending && <AnswerView result={answer.data} />}
		</Stack>
	);
}

function SearchResult({ hit }: { hit: KnowledgeHit }) {
	const link = hitLink(hit);
	const section = hit.documentId !== null ? hit.section : null;
	return (
		<Paper component="li" withBorder p="sm">
			<Stack gap={4}>
				<Group gap="xs" justify="space-between">
					<Text fw={600}>
						{link ? (
							<Anchor component={Link} to={link} inherit>
								{hit.title}
							</Anchor>
						) : (
							hit.title
						)}
					</Text>
					<Score score={hit.score} />
				</Group>
				{section && (
					<Text size="sm" c="dimmed">
						{section}
					</Text>
				)}
				<Text size="sm">{excerpt(hit.chunk)}</Text>
			</Stack>
		</Paper>
	);
}

function SearchPanel() {
	const [typed, setTyped] = useState("");
	const [query, setQuery] = useState("");
	const results = useQuery({ queryKey: knowledgeKeys.search(query), queryFn: () => searchKnowledge(query), enabled: query !== "", staleTime: 60_000 });
	return (
		<Stack gap="sm" component="section" aria-labelledby="search-title">
			<Title order={2} size="h3" id="search-title">
				Search
			</Title>
			<form
				role="search"
				aria-label="Knowledge"
				onSubmit={(event) => {
					event.preventDefault();
					setQuery(typed.trim());
				}}
			>
				<Group align="flex-end" gap="xs">
					<TextInput label="Search the knowledge base" type="search" value={typed} onChange={(event) => setTyped(event.currentTarget.value)} maxLength={1_000} style={{ flex: 1 }} miw={220} />
					<Button type="submit" variant="default" disabled={!typed.trim()} loading={results.isFetching}>
						Search
					</Button>
				</Group>
			</form>
			{results.error && <Failure error={results.error} />}
			{results.data &&
				(results.data.length === 0 ? (
					<Text role="status">Nothing found for “{query}”.</Text>
				) : (
					<>
						<Text size="sm" c="dimmed" role="status">
							{results.data.length} {results.data.length === 1 ? "result" : "results"} for “{query}”, most similar first.
						</Text>
						<Stack component="ul" gap="xs" p={0} m={0} style={{ listStyle: "none" }} aria-label="Search results">
							{results.data.map((hit) => (
								<SearchResult key={hit.chunkId} hit={hit} />
							))}
						</Stack>
					</>
				))}
		</Stack>
	);
}

const TEXT_FILES = ".md,.markdown,.txt,text/markdown,text/plain";

/** A file's text as UTF-8, read in the browser: nothing is uploaded but the text itself. */
function readText(file: File): Promise<string> {
	return new Promise((resolve, reject) => {
		const reader = new FileReader();
		reader.onload = () => resolve(String(reader.result ?? ""));
		reader.onerror = () => reject(reader.error ?? new Error("The file could not be read."));
		reader.readAsText(file);
	});
}

function AddDocumentPanel() {
	const queryClient = useQueryClient();
	const [title, setTitle] = useState("");
	const [text, setText] = useState("");
	const [file, setFile] = useState<File | null>(null);
	const [fileError, setFileError] = useState<string | null>(null);
	const [status, setStatus] = useState("");
	const add = useMutation({
		mutationFn: (input: { title: string; text: string }) => addDocument(input.title, input.text),
		onSuccess: (document) => {
			setStatus(`“${document.title}” was added, in ${document.chunks} ${document.chunks === 1 ? "part" : "parts"}.`);
			setTitle("");
			setText("");
			setFile(null);
			void queryClient.invalidateQueries({ queryKey: knowledgeKeys.documents });
			void queryClient.invalidateQueries({ queryKey: ["knowledge", "search"] });
		},
	});

	const readFile = async (chosen: File | null) => {
		setFile(chosen);
		setFileError(null);
		setStatus("");
		if (!chosen) return;
		if (!/\.(md|markdown|txt)$/i.test(chosen.name) && !/^text\//.test(chosen.type)) {
			setFileError("Choose a Markdown (.md) or plain text (.txt) file.");
			return;
		}
		try {
			const content = await readText(chosen);
			if (content.length > MAX_DOCUMENT_LENGTH) {
				setFileError(`The file is too long: at most ${MAX_DOCUMENT_LENGTH.toLocaleString()} characters.`);
				return;
			}
			setText(content);
			if (!title.trim()) setTitle(chosen.name.replace(/\.(md|markdown|txt)$/i, ""));
		} catch (err) {
			setFileError(`The file could not be read: ${reasonOf(err)}`);
		}
	};

	const submit = (event: FormEvent) => {
		event.preventDefault();
		setStatus("");
		add.mutate({ title: title.trim(), text });
	};

	return (
		<Stack gap="sm" component="section" aria-labelledby="add-title">
			<Title order={2} size="h3" id="add-title">
				Add a document
			</Title>
			<form onSubmit={submit} noValidate>
				<Stack gap="xs">
					<TextInput label="Title" required maxLength={200} value={title} onChange={(event) => setTitle(event.currentTarget.value)} />
					<FileInput
						label="Read from a file"
						description="A Markdown or plain text file, read in your browser into the text below."
						accept={TEXT_FILES}
						value={file}
						onChange={(chosen) => void readFile(chosen)}
						clearable
						clearButtonProps={{ "aria-label": "Clear the file" }}
						error={fileError}
					/>
					<Textarea label="Text" required autosize minRows={6} maxRows={18} value={text} onChange={(event) => setText(event.currentTarget.value)} />
					<Group>
						<Button type="submit" loading={add.isPending} disabled={!title.trim() || !text.trim()}>
							Add document
						</Button>
						<Text size="sm" role="status">
							{add.isPending ? "Reading the document into the knowledge base…" : status}
						</Text>
					</Group>
				</Stack>
			</form>
			{add.error && <Failure error={add.error} />}
		</Stack>
	);
}

function DocumentsPanel() {
	const me = useMe();
	const queryClient = useQueryClient();
	const documents = useQuery({ queryKey: knowledgeKeys.documents, queryFn: listDocuments });
	const remove = useMutation({
		mutationFn: (id: number) => removeDocument(id),
		onSuccess: () => {
			void queryClient.invalidateQueries({ queryKey: knowledgeKeys.documents });
			void queryClient.invalidateQueries({ queryKey: ["knowledge", "search"] });
		},
	});
	const mayRemoveAny = me.roles.includes("admin");
	return (
		<Stack gap="sm" component="section" aria-labelledby="documents-title">
			<Title order={2} size="h3" id="documents-title">
				Documents
			</Title>
			{documents.isPending ? (
				<Loader size="sm" aria-label="Loading the documents" />
			) : documents.isError ? (
				<Alert color="red" role="alert">
					{reasonOf(documents.error)}
				</Alert>
			) : documents.data.items.length === 0 ? (
				<Text c="dimmed">No documents yet.</Text>
			) : (
				<Table.ScrollContainer minWidth={480}>
					<Table verticalSpacing="xs">
						<Table.Thead>
							<Table.Tr>
								<Table.Th scope="col">Title</Table.Th>
								<Table.Th scope="col">Parts</Table.Th>
								<Table.Th scope="col">Added</Table.Th>
								<Table.Th scope="col">
									<VisuallyHidden>Actions</VisuallyHidden>
								</Table.Th>
							</Table.Tr>
						</Table.Thead>
						<Table.Tbody>
							{documents.data.items.map((document) => (
								<Table.Tr key={document.id}>
									<Table.Td>{document.title}</Table.Td>
									<Table.Td>{document.chunks}</Table.Td>
									<Table.Td>{new Date(document.createdAt).toLocaleDateString(undefined, { dateStyle: "medium" })}</Table.Td>
									<Table.Td>
										{(mayRemoveAny || document.createdBy === me.id) && (
											<Button
												variant="subtle"
												color="red"
												size="compact-sm"
												loading={remove.isPending && remove.variables === document.id}
												onClick={() => window.confirm(`Remove “${document.title}” from the knowledge base?`) && remove.mutate(document.id)}
												aria-label={`Remove ${document.title}`}
											>
												Remove
											</Button>
										)}
									</Table.Td>
								</Table.Tr>
							))}
						</Table.Tbody>
					</Table>
				</Table.ScrollContainer>
			)}
			{remove.error && (
				<Alert color="red" role="alert">
					{reasonOf(remove.error)}
				</Alert>
			)}
		</Stack>
	);
}

/** The knowledge base: ask it, search it, add to it. */
export default function KnowledgePage() {
	useScreenTitle("Knowledge");
	return (
		<Stack p="md" maw={960} gap="xl">
			<Title order={1}>Knowledge</Title>
			<AskPanel />
			<SearchPanel />
			<AddDocumentPanel />
			<DocumentsPanel />
		</Stack>
	);
}
