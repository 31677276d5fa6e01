/**
 * The Temporal floor's activities: the names of provisionSmime's lean lifecycle, and no work at
 * all. Each returns a short string, so payload handling is as cheap as it can be.
 */
/** Activities floorWorkflow runs per workflow (see workflows.ts): what a delivered provisionSmime runs. */
export const FLOOR_ACTIVITIES_PER_WORKFLOW = 3;

export interface FloorActivities {
  identifyUser(): Promise<string>;
  requestCertificates(kinds: string[]): Promise<string>;
  deliverCredentials(kinds: string[]): Promise<string>;
}

export const floorActivities: FloorActivities = {
  identifyUser: async () => 'user@floor.test',
  requestCertificates: async (kinds) => `issued ${kinds.join(',')}`,
  deliverCredentials: async (kinds) => `delivered ${kinds.join(',')}`,
};
