import { DataAwsIamPolicyDocument, DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketServerSideEncryptionConfigurationA as S3BucketServerSideEncryptionConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA as S3BucketVersioning } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { Construct } from 'constructs';

/**
 * The construct ids of the resources {@link makeBucketPrivate} adds. They are Terraform state
 * addresses, so each caller keeps the ids it has always used.
 */
export interface PrivateBucketIds {
  readonly ownership: string;
  readonly publicAccess: string;
  readonly encryption: string;
  readonly versioning: string;
  readonly lifecycle: string;
  readonly policyDocument: string;
  readonly policy: string;
}

/** How long replaced versions and unfinished uploads are kept. */
export interface PrivateBucketLifecycle {
  /** Id of the lifecycle rule. */
  readonly ruleId: string;
  /** Days a replaced (noncurrent) object version is kept. */
  readonly noncurrentDays: number;
  /** Days after which an incomplete multipart upload is aborted. */
  readonly abortIncompleteUploadDays: number;
}

/**
 * Makes `bucket` what every surgeguard bucket is: owner-enforced objects, every public access
 * blocked, encrypted by default with `key` (a bucket key, to keep KMS calls down), versioned with
 * replaced versions expiring, and a bucket policy that refuses requests without TLS and uploads not
 * encrypted with `key`.
 */
export function makeBucketPrivate(scope: Construct, bucket: S3Bucket, key: KmsKey, ids: PrivateBucketIds, lifecycle: PrivateBucketLifecycle): void {
  new S3BucketOwnershipControls(scope, ids.ownership, { bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } });
  new S3BucketPublicAccessBlock(scope, ids.publicAccess, {
    bucket: bucket.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  new S3BucketServerSideEncryptionConfiguration(scope, ids.encryption, {
    bucket: bucket.id,
    rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: key.arn }, bucketKeyEnabled: true }],
  });
  new S3BucketVersioning(scope, ids.versioning, { bucket: bucket.id, versioningConfiguration: { status: 'Enabled' } });
  new S3BucketLifecycleConfiguration(scope, ids.lifecycle, {
    bucket: bucket.id,
    rule: [
      {
        id: lifecycle.ruleId,
        status: 'Enabled',
        filter: [{ prefix: '' }],
        noncurrentVersionExpiration: [{ noncurrentDays: lifecycle.noncurrentDays }],
        abortIncompleteMultipartUpload: [{ daysAfterInitiation: lifecycle.abortIncompleteUploadDays }],
      },
    ],
  });
  const policy = new DataAwsIamPolicyDocument(scope, ids.policyDocument, { statement: privateBucketDenyStatements(bucket.arn, key.arn) });
  new S3BucketPolicy(scope, ids.policy, { bucket: bucket.id, policy: policy.json });
}

/**
 * The bucket-policy statements every private surgeguard bucket carries: no request without TLS, and
 * no upload that is not encrypted with the bucket's own customer key (so a writer cannot fall back to
 * an AWS-managed key the bucket's readers were never granted).
 */
function privateBucketDenyStatements(bucketArn: string, keyArn: string): DataAwsIamPolicyDocumentStatement[] {
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
