import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { TerraformOutput, Token } from 'cdktf';
import { Construct } from 'constructs';
import { accountAdministersKey } from '../private/kms-key-policy';
import { makeBucketPrivate } from '../private/s3-bucket';

export interface ModelWeightsBucketProps {
  /** Base name (`surgeguard-<env>-<short region>`): the bucket name starts with `<name>-weights-`. */
  readonly name: string;
  /** Region of the bucket (the cell's: weights never cross a region at pod start). */
  readonly region: string;
  /**
   * Days a replaced or deleted weights object version is kept (a staging run that went wrong can be
   * rolled back within this time).
   * @default 30
   */
  readonly noncurrentVersionDays?: number;
  /** Allow `terraform destroy` to delete a bucket that still holds weights. @default false */
  readonly forceDestroy?: boolean;
}

/**
 * The regional store of model weights: a private, versioned S3 bucket encrypted with its own
 * customer-managed KMS key (yearly rotation, S3 Bucket Keys so a 700 GB load is not millions of KMS
 * calls), TLS only, objects owned by the bucket owner. Weights are staged once per region by the
 * documented job (docs/weights-staging.md) and read from here by the model servers through a pod
 * role that may only read one model's prefix (`grantRead`) — never pulled from a model hub at pod start.
 */
export class ModelWeightsBucket extends Construct {
  /** The bucket. */
  public readonly bucket: S3Bucket;
  /** The key that encrypts every object. */
  public readonly key: KmsKey;
  /** The region of the bucket. */
  public readonly region: string;

  constructor(scope: Construct, id: string, props: ModelWeightsBucketProps) {
    super(scope, id);
    const days = props.noncurrentVersionDays ?? 30;
    if (!Token.isUnresolved(days) && (!Number.isInteger(days) || days < 1)) {
      throw new Error(`ModelWeightsBucket ${id}: noncurrentVersionDays must be a whole number >= 1, got ${days}`);
    }
    this.region = props.region;
    // Explicit key policy: the account administers the key through IAM; readers get kms:Decrypt only
    // through S3 from their role policy (grantRead), nobody outside the account uses it.
    const account = new DataAwsCallerIdentity(this, 'Account');
    const keyPolicy = new DataAwsIamPolicyDocument(this, 'KeyPolicy', { statement: [accountAdministersKey('aws', account.accountId)] });
    this.key = new KmsKey(this, 'Key', {
      description: `surgeguard ${props.name}: model weights at rest`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: keyPolicy.json,
    });
    new KmsAlias(this, 'KeyAlias', { name: `alias/${props.name}-weights`, targetKeyId: this.key.keyId });
    this.bucket = new S3Bucket(this, 'Bucket', {
      bucketPrefix: `${props.name}-weights-`,
      forceDestroy: props.forceDestroy ?? false,
      tags: { Name: `${props.name}-weights` },
    });
    makeBucketPrivate(
      this,
      this.bucket,
      this.key,
      { ownership: 'Ownership', publicAccess: 'PublicAccess', encryption: 'Encryption', versioning: 'Versioning', lifecycle: 'Lifecycle', policyDocument: 'PolicyDocument', policy: 'Policy' },
      { ruleId: 'old-versions-and-aborted-uploads', noncurrentDays: days, abortIncompleteUploadDays: 7 },
    );
    new TerraformOutput(this, 'BucketName', { value: this.bucket.bucket, description: `S3 bucket of the model weights of ${props.name} (docs/weights-staging.md)` });
  }

  /** `s3://<bucket>/<prefix>/`: where one model's files live. */
  public uri(prefix: string): string {
    return `s3://${this.bucket.bucket}/${ModelWeightsBucket.checkPrefix(prefix)}/`;
  }

  /**
   * Lets an IAM role (by name) read one prefix and nothing else: list under it, get its objects,
   * decrypt through S3 with the bucket's key.
   */
  public grantRead(roleName: string, prefix: string, id = 'ReadPolicy'): IamRolePolicy {
    const p = ModelWeightsBucket.checkPrefix(prefix);
    const doc = new DataAwsIamPolicyDocument(this, `${id}Document`, {
      statement: [
        { sid: 'ListThePrefix', actions: ['s3:ListBucket'], resources: [this.bucket.arn], condition: [{ test: 'StringLike', variable: 's3:prefix', values: [`${p}/*`, p] }] },
        { sid: 'ReadThePrefix', actions: ['s3:GetObject'], resources: [`${this.bucket.arn}/${p}/*`] },
        {
          sid: 'DecryptThroughS3',
          actions: ['kms:Decrypt'],
          resources: [this.key.arn],
          condition: [{ test: 'StringEquals', variable: 'kms:ViaService', values: [`s3.${this.region}.amazonaws.com`] }],
        },
      ],
    });
    return new IamRolePolicy(this, id, { name: 'read-model-weights', role: roleName, policy: doc.json });
  }

  /**
   * Lets an IAM role (by name) stage one prefix: list under it, read back what it wrote (object
   * metadata and the staging manifest, for idempotent re-runs), upload objects under it (multipart
   * included) encrypted with the bucket's key. Nothing outside the prefix; no delete (an old version
   * stays recoverable through versioning).
   */
  public grantStage(roleName: string, prefix: string, id = 'StagePolicy'): IamRolePolicy {
    const p = ModelWeightsBucket.checkPrefix(prefix);
    const doc = new DataAwsIamPolicyDocument(this, `${id}Document`, {
      statement: [
        { sid: 'ListThePrefix', actions: ['s3:ListBucket'], resources: [this.bucket.arn], condition: [{ test: 'StringLike', variable: 's3:prefix', values: [`${p}/*`, p] }] },
        {
          sid: 'WriteThePrefix',
          actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          resources: [`${this.bucket.arn}/${p}/*`],
        },
        {
          sid: 'EncryptThroughS3',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [this.key.arn],
          condition: [{ test: 'StringEquals', variable: 'kms:ViaService', values: [`s3.${this.region}.amazonaws.com`] }],
        },
      ],
    });
    return new IamRolePolicy(this, id, { name: 'stage-model-weights', role: roleName, policy: doc.json });
  }

  /** A prefix is a relative S3 key path without a trailing slash (`deepseek-ai/DeepSeek-V3`). */
  private static checkPrefix(prefix: string): string {
    if (!Token.isUnresolved(prefix) && !/^[A-Za-z0-9][A-Za-z0-9._\-/]*[A-Za-z0-9._-]$/.test(prefix)) {
      throw new Error(`ModelWeightsBucket: prefix "${prefix}" must be a relative key path (letters, digits, . _ - /), no leading or trailing slash`);
    }
    return prefix;
  }
}
