import type { AskAnswer, Citation } from "@colony/types/knowledge";
import { Anchor, Badge, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { Fragment } from "react";
import { Link } from "react-router";
import { excerpt, hitLink } from "./api";

/** The answer's text with each `[n]` linked to its source below. */
function AnswerText({ answer, refs }: { answer: string; refs: Set<number> }) {
	const parts = answer.split(/(\[\d+\])/g);
	return (
		<Text style={{ whiteSpace: "pre-wrap" }}>
			{parts.map((part, i) => {
				const ref = /^\[(\d+)\]$/.exec(part)?.[1];
				return ref && refs.has(Number(ref)) ? (
					<Anchor key={i} href={`#citation-${ref}`} inherit>
						{part}
					</Anchor>
				) : (
					<Fragment key={i}>{part}</Fragment>
				);
			})}
		</Text>
	);
}

export function Score({ score }: { score: number }) {
	return (
		<Badge variant="light" color="gray" size="sm" title="Similarity to the question, 1 at best">
			Score {score.toFixed(2)}
		</Badge>
	);
}

function CitationItem({ citation }: { citation: Citation }) {
	const link = hitLink(citation);
	const section = citation.documentId !== null ? citation.section : null;
	return (
		<li id={`citation-${citation.ref}`} value={citation.ref}>
			<Stack gap={2}>
				<Group gap="xs">
					<Text fw={600}>
						{link ? (
							<Anchor component={Link} to={link} inherit>
								{citation.title}
							</Anchor>
						) : (
							citation.title
						)}
					</Text>
					<Score score={citation.score} />
				</Group>
				{section && (
					<Text size="sm" c="dimmed">
						{section}
					</Text>
				)}
				<Text size="sm" component="blockquote" m={0}>
					{excerpt(citation.chunk)}
				</Text>
			</Stack>
		</li>
	);
}

/** The assistant's answer and the numbered sources it was given. */
export function AnswerView({ result }: { result: AskAnswer }) {
	const refs = new Set(result.citations.map((citation) => citation.ref));
	return (
		<Paper withBorder p="md" component="section" aria-labelledby="answer-title">
			<Stack gap="sm">
				<Title order={3} id="answer-title">
					Answer
				</Title>
				<AnswerText answer={result.answer} refs={refs} />
				{result.citations.length > 0 ? (
					<>
						<Title order={4} id="citations-title">
							Sources
						</Title>
						<Stack component="ol" gap="sm" aria-labelledby="citations-title" pl="lg" m={0}>
							{[...result.citations]
								.sort((a, b) => a.ref - b.ref)
								.map((citation) => (
									<CitationItem key={citation.ref} citation={citation} />
								))}
						</Stack>
					</>
				) : (
					<Text size="sm" c="dimmed">
						No document was close enough to the question to be given as a source.
					</Text>
				)}
			</Stack>
		</Paper>
	);
}
