/**
 * The Temporal floor's activities: the names of provisionSmime's, and no work at all. Each
 * returns a short string, so payload handling is as cheap as it can be.
 */
export interface FloorActivities {
  resolveUser(): Promise<string>;
  generateKeyPair(kind: string): Promise<string>;
  requestCertificate(kind: string): Promise<string>;
  encryptCredential(kind: string): Promise<string>;
  uploadCredential(kind: string): Promise<string>;
}

export const floorActivities: FloorActivities = {
  resolveUser: async () => 'user@floor.test',
  generateKeyPair: async (kind) => `key-${kind}`,
  requestCertificate: async (kind) => `cert-${kind}`,
  encryptCredential: async (kind) => `p12-${kind}`,
  uploadCredential: async (kind) => `receipt-${kind}`,
};
