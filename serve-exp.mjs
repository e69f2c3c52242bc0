import { FakeS3 } from './dist/test/helpers/s3.js';
import { gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync } from 'node:fs';
const s3 = await FakeS3.start();
const template = JSON.parse(readFileSync('../shared/samples/guardduty/public/SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json','utf8'));
const bucket='bench-a'; await s3.createRemoteBucket(bucket);
const dayPath=new Date().toISOString().slice(0,10).replaceAll('-','/');
const parts=[['111111111111','us-east-1'],['111111111111','eu-west-1'],['222222222222','us-east-1'],['222222222222','ap-southeast-2']];
for (let o=0;o<1200;o++){ const [a,r]=parts[o%4]; const body=gzipSync(Array.from({length:20},(_,f)=>JSON.stringify({...template,accountId:a,region:r,id:`x-${o}-${f}`})).join('\n')+'\n'); await s3.put(bucket,`AWSLogs/${a}/GuardDuty/${r}/${dayPath}/${String(o).padStart(8,'0')}.jsonl.gz`,body); }
writeFileSync('/tmp/exp/ossec.conf',`<ossec_config><wodle name="aws-s3"><bucket type="guardduty"><name>${bucket}</name><service_endpoint>${s3.endpoint}</service_endpoint></bucket></wodle></ossec_config>`);
console.log('ready', s3.endpoint);
