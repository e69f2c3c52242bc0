/**
 * A progress bar for long `--once` backfills, drawn on stderr only when a person is watching it (a
 * terminal) and the log is not chatty; never on a pipe, a file or the journal. Apart from the bar, so
 * that deciding does not load it.
 */
export function wantsProgress(options: { once: boolean; logLevel: string }, stream: { isTTY?: boolean }): boolean {
  return options.once && stream.isTTY === true && !['debug', 'trace'].includes(options.logLevel);
}
