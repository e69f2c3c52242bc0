// Deletes remove_from_bucket owes: a key recorded done whose delete has not succeeded yet (a kill came
// between the record and the delete, or S3 refused it). Every pass of the bucket carries them out at
// its start, listed or not, and a notification carries out its own key's; explain says the same.

/** `owed`: carried out at the start of the next pass; `kept`: remove_from_bucket is now no, it stays. */
export type OwedDelete = 'none' | 'owed' | 'kept';

export function owedDelete(deletePending: boolean, removeFromBucket: boolean): OwedDelete {
  if (!deletePending) return 'none';
  return removeFromBucket ? 'owed' : 'kept';
}

/** Deletes owed by an earlier run carried out at once. */
export const OWED_DELETES_IN_FLIGHT = 8;
