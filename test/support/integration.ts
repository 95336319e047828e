/** `describe` when the real servers are up; otherwise (outside CI only) a skipped suite, announced once by global-setup. */
export const describeIntegration: jest.Describe = process.env.COLONY_INTEGRATION_SKIPPED ? describe.skip : describe;
