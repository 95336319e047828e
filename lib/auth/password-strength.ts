import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import * as common from "@zxcvbn-ts/language-common";
import * as english from "@zxcvbn-ts/language-en";

/** zxcvbn's scale: 0 (too guessable) to 4 (very unguessable); 3 means "safely unguessable" against online attacks. */
export const MINIMUM_PASSWORD_SCORE = 3;

let estimator: ZxcvbnFactory | undefined;

export interface PasswordJudgement {
	strong: boolean;
	/** What makes it weak, to show the user (e.g. "This is a commonly used password."). */
	warning: string | null;
}

/**
 * Judges a password against common passwords, names, words, keyboard patterns and repeats (zxcvbn), knowing the
 * user's own name and email, which make a password easy to guess for whoever knows whose it is.
 */
export function judgePassword(password: string, userInputs: string[] = []): PasswordJudgement {
	estimator ??= new ZxcvbnFactory({
		graphs: common.adjacencyGraphs,
		dictionary: { ...common.dictionary, ...english.dictionary },
		translations: english.translations,
	});
	const result = estimator.check(password, userInputs);
	return { strong: result.score >= MINIMUM_PASSWORD_SCORE, warning: result.feedback.warning };
}
