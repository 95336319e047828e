import { apiService, gatewayUrl, RestClient, testBroker, usersService } from "../support/platform";

describe("a local platform", () => {
	const broker = testBroker();
	let client: RestClient;

	beforeAll(async () => {
		broker.createService(usersService());
		broker.createService(apiService());
		await broker.start();
		client = new RestClient(gatewayUrl(broker));
	});
	afterAll(() => broker.stop());

	it("registers, logs in and shows the user to themself", async () => {
		expect((await client.register("alice")).status).toBe(201);
		const { accessToken } = await client.login("alice");
		const me = await client.get("/api/v1/users/me", accessToken);
		expect(me.body).toMatchObject({ username: "alice", email: "alice@example.com" });
	});
});
