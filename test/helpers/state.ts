import Database from 'better-sqlite3';

export interface StateRow {
  key: string;
  status: string;
  events: number;
  malformed: number;
  error: string | null;
  /** The kind of the last failure (failure.ts), null for a row never failed. */
  failure: string | null;
  attempts: number;
}

/** The objects table of a state database, read the way an operator would, with sqlite. */
export function stateRows(file: string): StateRow[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT key, status, events, malformed, error, failure, attempts FROM objects ORDER BY key').all() as StateRow[];
  } finally {
    db.close();
  }
}
