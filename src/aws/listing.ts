import type { ListPage, ListQuery } from './direct.js';

// A paginated listing, checked page by page. S3 itself always advances, but S3-compatible stores and
// proxies in between do not: a continuation token handed out again, a page that says more follows
// and gives no token, empty pages that claim more, keys repeated across pages. Each of these would
// either loop for ever or end the listing silently; here it is an error naming bucket and prefix, and
// a key is yielded once however often the pages repeat it.

/** A listing that does not advance, or cannot be continued: the partition's listing fails for this pass. */
export class ListingError extends Error {
  override name = 'ListingError';
}

export type PageFetch = (query: ListQuery, signal?: AbortSignal) => Promise<ListPage>;

export interface ListingScope {
  bucket: string;
  prefix: string;
}

/**
 * The new names of a listing (`namesOf` picks keys or common prefixes from a page), every page, in
 * order. Ends quietly once `signal` is aborted (before the next page, or by aborting the request in
 * flight). Holds the names listed so far, to yield each once: one partition's window of keys.
 */
export async function* checkedListing<T>(
  fetchPage: PageFetch,
  scope: ListingScope,
  query: Omit<ListQuery, 'continuationToken'>,
  itemsOf: (page: ListPage) => T[],
  nameOf: (item: T) => string,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  const tokens = new Set<string>();
  const seen = new Set<string>();
  const fail = (page: number, why: string) =>
    new ListingError(`s3://${scope.bucket}: listing ${scope.prefix === '' ? 'the bucket root' : scope.prefix}: page ${page} ${why}`);
  let token: string | undefined;
  for (let pageNumber = 1; ; pageNumber++) {
    if (signal?.aborted) return;
    let page: ListPage;
    try {
      page = await fetchPage({ ...query, continuationToken: token, startAfter: token === undefined ? query.startAfter : undefined }, signal);
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    const seenBefore = seen.size;
    const fresh = new Set<string>();
    for (const name of [...page.contents.map((object) => object.key), ...page.prefixes]) {
      if (!seen.has(name)) fresh.add(name);
      seen.add(name);
    }
    for (const item of itemsOf(page)) {
      const name = nameOf(item);
      if (!fresh.delete(name)) continue;
      yield item;
    }
    if (!page.truncated) return;
    const pageAdvanced = seen.size > seenBefore;
    if (page.nextToken === undefined || page.nextToken === '') {
      throw fail(pageNumber, 'says more keys follow (IsTruncated) but gives no continuation token: the rest cannot be listed');
    }
    if (page.contents.length === 0 && page.prefixes.length === 0) throw fail(pageNumber, 'is empty but says more keys follow (IsTruncated)');
    if (!pageAdvanced) throw fail(pageNumber, 'holds only keys listed on earlier pages: the listing does not advance');
    if (tokens.has(page.nextToken)) throw fail(pageNumber, 'hands out a continuation token given before: the listing does not advance');
    tokens.add(page.nextToken);
    token = page.nextToken;
  }
}
