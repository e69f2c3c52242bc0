// GuardDuty findings of the families added since 2024, built to the shapes of the GuardDuty API model
// (Finding, Service.Detection.Sequence, Signal, Actor, ResourceV2, NetworkEndpoint, Indicator), for tests
// and benchmarks: Extended Threat Detection attack sequences at the sizes they reach, and one finding of
// each newer family. Deterministic: the same arguments give the same finding.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export const ATTACK_SEQUENCE_TYPES = [
  'AttackSequence:IAM/CompromisedCredentials',
  'AttackSequence:S3/CompromisedData',
  'AttackSequence:EKS/CompromisedCluster',
  'AttackSequence:ECS/CompromisedCluster',
  'AttackSequence:EC2/CompromisedInstanceGroup',
] as const;

/** How big a sequence is: its signals, and the actors, resources and endpoints they name. */
export interface SequenceSize {
  signals: number;
  actors: number;
  resources: number;
  endpoints: number;
  /** resourceUids / actorIds / endpointIds listed per signal (at most those there are). */
  idsPerSignal: number;
}

/** Sizes that give a finding of about 11 KiB, 80 KiB, 400 KiB and 3 MiB as JSON. */
export const SEQUENCE_SIZES: Record<'small' | 'medium' | 'large' | 'maximal', SequenceSize> = {
  small: { signals: 5, actors: 3, resources: 5, endpoints: 3, idsPerSignal: 3 },
  medium: { signals: 25, actors: 25, resources: 40, endpoints: 25, idsPerSignal: 12 },
  large: { signals: 100, actors: 90, resources: 140, endpoints: 90, idsPerSignal: 40 },
  maximal: { signals: 100, actors: 400, resources: 400, endpoints: 400, idsPerSignal: 400 },
};

const RESOURCE_TYPES = ['EC2_INSTANCE', 'S3_BUCKET', 'S3_OBJECT', 'ACCESS_KEY', 'EKS_CLUSTER', 'KUBERNETES_WORKLOAD', 'CONTAINER'];
const SIGNAL_TYPES = ['FINDING', 'CLOUD_TRAIL', 'S3_DATA_EVENTS', 'EKS_AUDIT_LOGS', 'FLOW_LOGS', 'RUNTIME_MONITORING'];
const TACTICS = ['Initial Access', 'Discovery', 'Persistence', 'Privilege Escalation', 'Defense Evasion', 'Exfiltration', 'Impact'];
const EPOCH = 1_764_460_800; // 2025-11-30T00:00:00Z, in seconds as the sequence carries them

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length]!;
}

function actor(n: number): JsonObject {
  return {
    id: `actor-${n.toString(16).padStart(8, '0')}`,
    user: { name: `svc-user-${n}`, uid: `AIDA${String(n).padStart(17, '0')}`, type: n % 3 === 0 ? 'AssumedRole' : 'IAMUser', credentialUid: `ASIA${String(n).padStart(16, '0')}`, account: { uid: '111122223333', name: 'production' } },
    session: { uid: `session-${n}`, mfaStatus: n % 2 === 0 ? 'Disabled' : 'Enabled', createdTime: EPOCH - n * 60, issuer: `arn:aws:iam::111122223333:role/role-${n}` },
    process: n % 4 === 0 ? { name: 'curl', path: '/usr/bin/curl' } : null,
  };
}

function resource(n: number, region: string): JsonObject {
  const type = pick(RESOURCE_TYPES, n);
  return {
    uid: `arn:aws:${type === 'S3_BUCKET' ? 's3' : 'ec2'}:${region}:111122223333:${type.toLowerCase()}/r-${String(n).padStart(6, '0')}`,
    name: `resource-${n}`,
    accountId: '111122223333',
    resourceType: type,
    region,
    service: type.startsWith('S3') ? 'Amazon S3' : 'Amazon EC2',
    cloudPartition: 'aws',
    tags: [
      { key: 'team', value: `team-${n % 7}` },
      { key: 'env', value: n % 2 === 0 ? 'prod' : 'staging' },
    ],
    data: type === 'S3_BUCKET' ? { s3Bucket: { ownerId: 'owner', createdAt: EPOCH - 86_400 * n, encryptionType: 'SSE-KMS', publicReadAccess: 'BLOCKED', publicWriteAccess: 'BLOCKED' } } : { ec2Instance: { availabilityZone: `${region}a`, imageDescription: 'Amazon Linux 2023', instanceState: 'running', IamInstanceProfile: { arn: 'arn:aws:iam::111122223333:instance-profile/web', id: 'AIPA000' } } },
  };
}

function endpoint(n: number): JsonObject {
  return {
    id: `endpoint-${n}`,
    ip: `198.51.${(n >> 8) & 255}.${n & 255}`,
    domain: `host-${n}.example.net`,
    port: 443,
    location: { city: 'Ashburn', country: 'United States', lat: 39.0469, lon: -77.4903 },
    autonomousSystem: { name: 'EXAMPLE-AS', number: 64_500 + (n % 20) },
    connection: { direction: 'OUTBOUND' },
  };
}

function ids(prefix: string, count: number, available: number, start: number): string[] {
  return Array.from({ length: Math.min(count, available) }, (_, i) => `${prefix}-${((start + i) % Math.max(available, 1)).toString(16).padStart(8, '0')}`);
}

function signal(n: number, size: SequenceSize): JsonObject {
  const seen = EPOCH + n * 900;
  return {
    uid: `arn:aws:guardduty:us-east-1:111122223333:detector/d/finding/signal-${n}`,
    type: pick(SIGNAL_TYPES, n),
    description:
      `Signal ${n}: ${pick(TACTICS, n)} activity. A principal of the account called APIs it had not called before, from an endpoint ` +
      'that threat intelligence lists as malicious, against resources it had not touched in the baseline period; the calls ' +
      'succeeded, and data was read from the resources named below.',
    name: n % 2 === 0 ? 'Discovery:IAMUser/AnomalousBehavior' : 'Exfiltration:S3/AnomalousBehavior',
    // Epoch seconds as JSON numbers, as the sequence carries them; some in E-notation in the raw export.
    createdAt: seen - 30,
    updatedAt: seen + 60,
    firstSeenAt: seen,
    lastSeenAt: seen + 60,
    severity: [2, 5, 8, 5.5, 8.9, 3.1][n % 6]!,
    count: 1 + (n % 9),
    resourceUids: ids('r', size.idsPerSignal, size.resources, n),
    actorIds: ids('actor', size.idsPerSignal, size.actors, n),
    endpointIds: ids('endpoint', size.idsPerSignal, size.endpoints, n),
    signalIndicators: [
      { key: 'ATTACK_TACTIC', values: [pick(TACTICS, n)], title: 'Attack tactic' },
      { key: 'ATTACK_TECHNIQUE', values: ['Valid Accounts: Cloud Accounts', 'Cloud Service Discovery'], title: 'Attack technique' },
      { key: 'HIGH_RISK_API', values: ['s3:GetObject', 's3:ListBucket', 'iam:ListAttachedRolePolicies'], title: 'High risk APIs' },
      { key: 'MALICIOUS_IP', values: [`198.51.100.${n % 250}`], title: 'Malicious IP' },
    ],
  };
}

/** An Extended Threat Detection finding: severity 9, featureName Correlation, its sequence as big as asked. */
export function attackSequence(id: string, size: SequenceSize, type: (typeof ATTACK_SEQUENCE_TYPES)[number] = ATTACK_SEQUENCE_TYPES[0], region = 'us-east-1'): JsonObject {
  const sequence: JsonObject = {
    uid: `sequence-${id}`,
    description: 'A sequence of actions indicating a potential compromise of credentials, followed by discovery, privilege escalation and data access across several resources.',
    actors: Array.from({ length: size.actors }, (_, n) => actor(n)),
    resources: Array.from({ length: size.resources }, (_, n) => resource(n, region)),
    endpoints: Array.from({ length: size.endpoints }, (_, n) => endpoint(n)),
    signals: Array.from({ length: size.signals }, (_, n) => signal(n, size)),
    sequenceIndicators: [
      { key: 'ATTACK_TACTIC', values: TACTICS.slice(0, 4), title: 'Attack tactics' },
      { key: 'HIGH_RISK_API', values: ['s3:GetObject', 'iam:CreateAccessKey'], title: 'High risk APIs' },
    ],
    additionalSequenceTypes: ['AttackSequence:S3/CompromisedData'],
  };
  return {
    schemaVersion: '2.0',
    accountId: '111122223333',
    region,
    partition: 'aws',
    id,
    arn: `arn:aws:guardduty:${region}:111122223333:detector/d/finding/${id}`,
    type,
    resource: { resourceType: 'AccessKey', accessKeyDetails: { accessKeyId: 'ASIA0000000000000000', principalId: 'AIDA0000', userName: 'svc-user-0', userType: 'IAMUser' } },
    service: {
      serviceName: 'guardduty',
      detectorId: 'd',
      featureName: 'Correlation',
      count: 1,
      eventFirstSeen: '2025-11-30T00:00:00.000Z',
      eventLastSeen: '2025-12-01T01:00:00.000Z',
      archived: false,
      resourceRole: 'TARGET',
      additionalInfo: { value: '{}', type: 'default' },
      detection: { sequence },
    },
    severity: 9,
    createdAt: '2025-12-01T01:02:03.000Z',
    updatedAt: '2025-12-01T01:02:03.000Z',
    title: 'Potential credential compromise of one or more IAM principals, followed by data access.',
    description: 'A sequence of suspicious actions was observed: see the sequence signals for the details.',
  };
}

/** A signal finding carries the arn of the sequence it belongs to. */
export function signalFinding(base: JsonObject, sequenceArn: string): JsonObject {
  return { ...base, associatedAttackSequenceArn: sequenceArn };
}

/** One finding of each family GuardDuty added since 2024, with its kind of resource. */
export function newerFamilies(account = '111122223333', region = 'eu-west-1'): JsonObject[] {
  const base = (id: string, type: string, severity: number, resource: JsonObject, service: JsonObject = {}): JsonObject => ({
    schemaVersion: '2.0',
    accountId: account,
    region,
    partition: 'aws',
    id,
    arn: `arn:aws:guardduty:${region}:${account}:detector/d/finding/${id}`,
    type,
    resource,
    service: { serviceName: 'guardduty', detectorId: 'd', count: 1, archived: false, eventFirstSeen: '2025-06-01T00:00:00.000Z', eventLastSeen: '2025-06-01T00:05:00.000Z', resourceRole: 'TARGET', ...service },
    severity,
    createdAt: '2025-06-01T00:06:00.000Z',
    updatedAt: '2025-06-01T00:06:00.000Z',
    title: `${type} finding`,
    description: `A ${type} finding.`,
  });
  return [
    base('malware-s3', 'Object:S3/MaliciousFile', 8, { resourceType: 'S3Object', s3ObjectDetails: [{ objectArn: 'arn:aws:s3:::uploads/in/file.exe', key: 'in/file.exe', eTag: 'e', hash: 'abc', versionId: null }], s3BucketDetails: [{ arn: 'arn:aws:s3:::uploads', name: 'uploads', type: 'Destination' }] }, { featureName: 'S3MalwareProtection', malwareScanDetails: { threats: [{ name: 'EICAR-Test-File', source: 'AMAZON', itemPaths: [{ nestedItemPath: 'in/file.exe', hash: 'abc' }] }] } }),
    base('malware-backup', 'Execution:EC2/MaliciousFile!Snapshot', 8, { resourceType: 'EBSSnapshot', ebsSnapshotDetails: { snapshotArn: 'arn:aws:ec2:eu-west-1::snapshot/snap-1' } }, { featureName: 'BackupMalwareProtection', malwareScanDetails: { threats: [{ name: 'Trojan.Linux.Agent', source: 'AMAZON', itemPaths: [{ nestedItemPath: '/usr/bin/x', hash: 'def' }] }], scanCategory: 'FULL_SCAN' } }),
    base('rds-login', 'CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin', 5, { resourceType: 'RDSDBInstance', rdsDbInstanceDetails: { dbInstanceIdentifier: 'db-1', engine: 'aurora-postgresql', engineVersion: '16.4', dbClusterIdentifier: 'cluster-1', dbInstanceArn: 'arn:aws:rds:eu-west-1:1:db:db-1', tags: [] }, rdsDbUserDetails: { user: 'admin', application: 'psql', database: 'orders', ssl: 'on', authMethod: 'PASSWORD' } }, { featureName: 'RdsLoginEvents', action: { actionType: 'RDS_LOGIN_ATTEMPT', rdsLoginAttemptAction: { remoteIpDetails: { ipAddressV4: '203.0.113.9', country: { countryName: 'Nowhere' } }, LoginAttributes: [{ user: 'admin', application: 'psql', failedLoginAttempts: 0, successfulLoginAttempts: 1 }] } } }),
    base('lambda-net', 'Backdoor:Lambda/C&CActivity.B', 8, { resourceType: 'Lambda', lambdaDetails: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:f', functionName: 'f', lastModifiedAt: '2025-05-01T00:00:00Z', revisionId: 'r', functionVersion: '$LATEST', role: 'arn:aws:iam::1:role/f', vpcConfig: { subnetIds: ['s-1'], vpcId: 'vpc-1', securityGroups: [{ groupId: 'sg-1', groupName: 'default' }] }, tags: [] } }, { featureName: 'LambdaNetworkLogs', action: { actionType: 'NETWORK_CONNECTION', networkConnectionAction: { connectionDirection: 'OUTBOUND', protocol: 'TCP', blocked: false, remoteIpDetails: { ipAddressV4: '198.51.100.7' }, remotePortDetails: { port: 443, portName: 'HTTPS' } } } }),
    base('eks-runtime', 'Execution:Runtime/NewBinaryExecuted', 5, { resourceType: 'EKSCluster', eksClusterDetails: { name: 'prod', arn: 'arn:aws:eks:eu-west-1:1:cluster/prod', vpcId: 'vpc-1', status: 'ACTIVE' }, kubernetesDetails: { kubernetesWorkloadDetails: { name: 'web', type: 'deployments', uid: 'u', namespace: 'default', containers: [{ name: 'web', image: 'nginx', imagePrefix: 'nginx' }] } } }, { featureName: 'EksRuntimeMonitoring', runtimeDetails: { process: { name: 'x', executablePath: '/tmp/x', executableSha256: 'f00', pid: 4242, user: 'root', userId: 0, lineage: [{ pid: 1, name: 'containerd-shim' }, { pid: 77, name: 'sh' }] }, context: { modifyingProcess: null } } }),
    base('ecs-runtime', 'PrivilegeEscalation:Runtime/ContainerMountsHostDirectory', 8, { resourceType: 'ECSCluster', ecsClusterDetails: { name: 'c', arn: 'arn:aws:ecs:eu-west-1:1:cluster/c', status: 'ACTIVE', taskDetails: { arn: 'arn:aws:ecs:eu-west-1:1:task/c/t', definitionArn: 'd', containers: [{ name: 'app', image: 'app:1', volumeMounts: [{ name: 'host', mountPath: '/host' }] }] } } }, { featureName: 'EcsRuntimeMonitoring', runtimeDetails: { process: { name: 'mount', executablePath: '/bin/mount' } } }),
    base('ec2-runtime', 'DefenseEvasion:Runtime/FilelessExecution', 8, { resourceType: 'Instance', instanceDetails: { instanceId: 'i-1', instanceType: 't3.micro', networkInterfaces: [{ privateIpAddress: '10.0.0.5', securityGroups: [{ groupId: 'sg-1', groupName: 'web' }] }] } }, { featureName: 'Ec2RuntimeMonitoring', runtimeDetails: { process: { name: 'memfd:x', executablePath: '/memfd:x (deleted)' } } }),
    base('ai-protection', 'Discovery:Bedrock/AnomalousBehavior', 5, { resourceType: 'AccessKey', accessKeyDetails: { accessKeyId: 'ASIA1', principalId: 'p', userName: 'ml', userType: 'AssumedRole' } }, { featureName: 'CloudTrail', action: { actionType: 'AWS_API_CALL', awsApiCallAction: { api: 'ListFoundationModels', serviceName: 'bedrock.amazonaws.com', callerType: 'Remote IP', remoteIpDetails: { ipAddressV4: '192.0.2.4' } } } }),
    base('custom-rule', 'CustomDetection:IAM/SensitiveActionByUntrustedPrincipal', 7, { resourceType: 'AccessKey', accessKeyDetails: { accessKeyId: 'ASIA2', principalId: 'p2', userName: 'ops', userType: 'IAMUser' } }, { featureName: 'CustomDetectionRules', action: { actionType: 'AWS_API_CALL', awsApiCallAction: { api: 'PutBucketPolicy', serviceName: 's3.amazonaws.com' } } }),
    base('critical-10', 'AttackSequence:S3/CompromisedData', 10, { resourceType: 'S3Bucket' }, { featureName: 'Correlation' }),
  ];
}
