// A configuration whose endpoints carry passwords, for the tests of where endpoints are printed.

export const PASSWORD = 's3cr3t';
export const STS_PASSWORD = 'st5-pa55';

/** A bucket and a subscriber whose S3 and STS endpoints carry user and password; `bucketExtra` goes in the bucket. */
export function maskedConf(bucketExtra: string): string {
  return `<ossec_config>
  <wodle name="aws-s3">
    <bucket type="guardduty">
      <name>gd-masked</name>
      <service_endpoint>http://user:${PASSWORD}@127.0.0.1:9</service_endpoint>
      <sts_endpoint>https://stsuser:${STS_PASSWORD}@sts.example.com</sts_endpoint>
${bucketExtra}
    </bucket>
    <subscriber type="buckets">
      <sqs_name>q</sqs_name>
      <service_endpoint>http://quser:${PASSWORD}@127.0.0.1:9</service_endpoint>
      <sts_endpoint>https://qsts:${STS_PASSWORD}@sts.example.com/</sts_endpoint>
    </subscriber>
  </wodle>
</ossec_config>
`;
}
