import { stopDevServer } from './temporal';

/** Root hooks: whatever the run started is stopped, pass or fail. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await stopDevServer();
  },
};
