import { Alert, Anchor, Button, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { reasonOf } from "../../lib/errors";
import { useSession } from "../../lib/session";
import { AuthFrame } from "./AuthFrame";

/** Where to go after signing in: only a path of this app, never another site. */
export function safeNext(next: string | null): string {
	return next && next.startsWith("/") && !next.startsWith("//") ? next : "/channels";
}

export default function SignInPage() {
	const { user, signIn, endedBecause } = useSession();
	const [params] = useSearchParams();
	const navigate = useNavigate();
	const [login, setLogin] = useState("");
	const [password, setPassword] = useState("");
	const [error, setError] = useState<string | null>(null);
	const [busy, setBusy] = useState(false);
	const next = safeNext(params.get("next"));
	if (user) return <Navigate to={next} replace />;

	const submit = async (event: FormEvent) => {
		event.preventDefault();
		setBusy(true);
		setError(null);
		try {
			await signIn(login.trim(), password);
			navigate(next, { replace: true });
		} catch (err) {
			setError(reasonOf(err));
		} finally {
			setBusy(false);
		}
	};

	return (
		<AuthFrame title="Sign in to Colony">
			{endedBecause && (
				<Alert color="yellow" role="status">
					{endedBecause}
				</Alert>
			)}
			<form onSubmit={(event) => void submit(event)} noValidate>
				<Stack>
					<TextInput label="Username or email" autoComplete="username" required value={login} onChange={(event) => setLogin(event.currentTarget.value)} data-autofocus />
					<PasswordInput label="Password" autoComplete="current-password" required value={password} onChange={(event) => setPassword(event.currentTarget.value)} />
					{error && (
						<Alert color="red" role="alert">
							{error}
						</Alert>
					)}
					<Button type="submit" loading={busy} disabled={!login || !password}>
						Sign in
					</Button>
				</Stack>
			</form>
			<Text size="sm">
				New here?{" "}
				<Anchor component={Link} to={`/signup${params.get("next") ? `?next=${encodeURIComponent(next)}` : ""}`}>
					Create an account
				</Anchor>
			</Text>
		</AuthFrame>
	);
}
