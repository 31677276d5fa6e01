/**
 * The Temporal floor's activities: the names of provisionSmime's, and no work at all. Each
 * returns a short string, so payload handling is as cheap as it can be.
 */
/** Activities floorWorkflow runs per workflow (see workflows.ts). */
export const FLOOR_ACTIVITIES_PER_WORKFLOW = 11;

export interface FloorActivities {
  resolveUser(): Promise<string>;
  claimSharedCredential(kind: string): Promise<string>;
  generateKeyPair(kind: string): Promise<string>;
  requestCertificate(kind: string): Promise<string>;
  escrowCredential(kind: string): Promise<string>;
  encryptCredential(kind: string): Promise<string>;
  uploadCredential(kind: string): Promise<string>;
}

export const floorActivities: FloorActivities = {
  resolveUser: async () => 'user@floor.test',
  claimSharedCredential: async (kind) => `claim-${kind}`,
  generateKeyPair: async (kind) => `key-${kind}`,
  requestCertificate: async (kind) => `cert-${kind}`,
  escrowCredential: async (kind) => `escrow-${kind}`,
  encryptCredential: async (kind) => `p12-${kind}`,
  uploadCredential: async (kind) => `receipt-${kind}`,
};
