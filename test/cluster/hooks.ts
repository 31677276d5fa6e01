import { stopSharedCluster } from './support';

/** Root hooks of `npm run test:cluster`: the run's cluster stops (in order) whatever happened. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(180_000);
    await stopSharedCluster();
  },
};
