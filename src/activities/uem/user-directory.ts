/** Who to look up: UEM's UUID (REST v2) and numeric id (REST v1). */
export interface UserReference {
  enrollmentUserUuid: string;
  enrollmentUserId?: string;
}

export interface DirectoryUser {
  email?: string;
  /** UEM's numeric id of the user with this UUID (what UEM's upload API addresses). */
  enrollmentUserId?: string;
  displayName?: string;
  userName?: string;
}

/**
 * UEM's user directory. `UserNotFound` (non-retryable) when UEM says the user does not exist,
 * `DirectoryUnavailable` (retryable) on outages.
 */
export interface UserDirectory {
  readonly type: string;
  lookUp(user: UserReference): Promise<DirectoryUser>;
}
