import { Alert, Anchor, Button, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { reasonOf } from "../../lib/errors";
import { useSession } from "../../lib/session";
import { AuthFrame } from "./AuthFrame";
import { safeNext } from "./SignInPage";

export default function SignUpPage() {
	const { user, signUp } = useSession();
	const [params] = useSearchParams();
	const navigate = useNavigate();
	const [form, setForm] = useState({ username: "", displayName: "", email: "", password: "" });
	const [error, setError] = useState<string | null>(null);
	const [busy, setBusy] = useState(false);
	const next = safeNext(params.get("next"));
	if (user) return <Navigate to={next} replace />;

	const field = (name: keyof typeof form) => ({
		value: form[name],
		onChange: (event: { currentTarget: { value: string } }) => setForm({ ...form, [name]: event.currentTarget.value }),
	});
	const submit = async (event: FormEvent) => {
		event.preventDefault();
		setBusy(true);
		setError(null);
		try {
			await signUp({ username: form.username.trim(), email: form.email.trim(), password: form.password, ...(form.displayName.trim() ? { displayName: form.displayName.trim() } : {}) });
			navigate(next, { replace: true });
		} catch (err) {
			setError(reasonOf(err));
		} finally {
			setBusy(false);
		}
	};

	return (
		<AuthFrame title="Create your Colony account">
			<form onSubmit={(event) => void submit(event)} noValidate>
				<Stack>
					<TextInput label="Username" description="Letters, digits, dots, dashes and underscores" autoComplete="username" required {...field("username")} />
					<TextInput label="Display name" autoComplete="name" {...field("displayName")} />
					<TextInput label="Email" type="email" autoComplete="email" required {...field("email")} />
					<PasswordInput label="Password" description="A long passphrase is best" autoComplete="new-password" required {...field("password")} />
					{error && (
						<Alert color="red" role="alert">
							{error}
						</Alert>
					)}
					<Button type="submit" loading={busy} disabled={!form.username || !form.email || !form.password}>
						Create account
					</Button>
				</Stack>
			</form>
			<Text size="sm">
				Already have an account?{" "}
				<Anchor component={Link} to="/signin">
					Sign in
				</Anchor>
			</Text>
		</AuthFrame>
	);
}
