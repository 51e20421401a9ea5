import { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';

/**
 * The bucket-policy statements every private surgeguard bucket carries: no request without TLS, and
 * no upload that is not encrypted with the bucket's own customer key (so a writer cannot fall back to
 * an AWS-managed key the bucket's readers were never granted).
 */
export function privateBucketDenyStatements(bucketArn: string, keyArn: string): DataAwsIamPolicyDocumentStatement[] {
  const everyone = [{ type: '*', identifiers: ['*'] }];
  return [
    {
      sid: 'DenyInsecureTransport',
      effect: 'Deny',
      actions: ['s3:*'],
      resources: [bucketArn, `${bucketArn}/*`],
      principals: everyone,
      condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
    },
    {
      sid: 'DenyObjectsNotEncryptedWithTheBucketKey',
      effect: 'Deny',
      actions: ['s3:PutObject'],
      resources: [`${bucketArn}/*`],
      principals: everyone,
      condition: [{ test: 'StringNotEqualsIfExists', variable: 's3:x-amz-server-side-encryption-aws-kms-key-id', values: [keyArn] }],
    },
  ];
}
