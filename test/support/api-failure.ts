import { ColonyApiError } from "../../client";

/** The SDK error `promise` fails with; fails the test when it succeeds or fails otherwise. */
export async function failure(promise: Promise<unknown>): Promise<ColonyApiError> {
	try {
		await promise;
	} catch (err) {
		if (err instanceof ColonyApiError) return err;
		throw err;
	}
	throw new Error("expected the call to fail");
}
