import type { Telemetry } from './vocabulary.js';

/** Reports to each of several receivers. */
export function fanOut(receivers: Telemetry[]): Telemetry {
  return {
    passStarted: () => receivers.forEach((r) => r.passStarted?.()),
    passFinished: (outcome) => receivers.forEach((r) => r.passFinished?.(outcome)),
    objectListed: (bucket) => receivers.forEach((r) => r.objectListed?.(bucket)),
    listingFinished: (bucket) => receivers.forEach((r) => r.listingFinished?.(bucket)),
    objectToRead: (bucket) => receivers.forEach((r) => r.objectToRead?.(bucket)),
    objectSettled: (bucket, outcome, bytes, events) => receivers.forEach((r) => r.objectSettled?.(bucket, outcome, bytes, events)),
    s3Request: (bucket, operation) => receivers.forEach((r) => r.s3Request?.(bucket, operation)),
    findingsDelivered: (bucket, severities) => receivers.forEach((r) => r.findingsDelivered?.(bucket, severities)),
    updatesSuppressed: (bucket, count) => receivers.forEach((r) => r.updatesSuppressed?.(bucket, count)),
  };
}
