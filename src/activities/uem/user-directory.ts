/**
 * Who to look up. UEM's UUID is the key; the numeric id (the event's EnrollmentUserId) is a hint
 * at most: it may shorten the look-up, but an answer is only taken when UEM's record for that id
 * carries the same UUID.
 */
export interface UserReference {
  enrollmentUserUuid: string;
  enrollmentUserId?: string;
}

/** UEM's record of an enrollment user. */
export interface DirectoryUser {
  email?: string;
  /** UEM's numeric id for this UUID (what uploadsmimecerts takes); absent when UEM's answers do not give it. */
  enrollmentUserId?: string;
  displayName?: string;
  userName?: string;
}

/**
 * UEM's user directory.
 */
export interface UserDirectory {
  readonly type: string;
  /**
   * UEM's record of the enrollment user, looked up by EnrollmentUserUUID (the id in the reference
   * is a hint at most, never trusted): address and numeric id. `UserNotFound` (non-retryable) if
   * UEM has none; `DirectoryUnavailable` (retryable) on outages.
   */
  lookUp(user: UserReference): Promise<DirectoryUser>;
}
