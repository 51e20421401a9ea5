import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { accountAdministersKey } from '../private/kms-key-policy';
import { makeBucketPrivate } from '../private/s3-bucket';

export interface ArtifactStoreProps {
  /** Name prefix of the bucket and key alias (`surgeguard-dev-use1`): lower-case letters, digits, dashes, at most 26 characters. */
  readonly name: string;
  /** AWS region of the bucket (the pods fetch through the S3 endpoint of this region). */
  readonly region: string;
  /**
   * Days a replaced or deleted artifact version is kept (a rollback to a previous synth needs its
   * objects: they are content-addressed, so an older deployment's keys stay current until removed).
   * @default 90
   */
  readonly noncurrentVersionExpirationDays?: number;
}

/**
 * The region's store of runtime artifacts (the proxy and worker bundles): a private, versioned S3
 * bucket encrypted with its own customer-managed KMS key (rotated, S3 bucket key), TLS-only, owner-
 * enforced, every public access blocked. Objects go in with {@link RuntimeArtifactObjects} from the
 * workloads stack; pods read them through the VPC's S3 gateway endpoint with their own IRSA role.
 */
export class ArtifactStore extends Construct {
  public readonly bucket: S3Bucket;
  public readonly key: KmsKey;
  public readonly region: string;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps) {
    super(scope, id);
    const fail = (field: string, problem: string): never => {
      throw new Error(`ArtifactStore ${id}: ${field} ${problem}`);
    };
    if (!Token.isUnresolved(props.name) && !/^[a-z0-9][a-z0-9-]{0,25}$/.test(props.name)) {
      fail('name', `must be 1-26 lower-case letters, digits or dashes (it prefixes a bucket name), got "${props.name}"`);
    }
    const noncurrentDays = props.noncurrentVersionExpirationDays ?? 90;
    if (!Number.isInteger(noncurrentDays) || noncurrentDays < 1) fail('noncurrentVersionExpirationDays', `must be a whole number >= 1, got ${noncurrentDays}`);
    this.region = props.region;

    const partition = new DataAwsPartition(this, 'partition');
    const account = new DataAwsCallerIdentity(this, 'account');
    const keyPolicy = new DataAwsIamPolicyDocument(this, 'key-policy', {
      statement: [accountAdministersKey(partition.partition, account.accountId)],
    });
    this.key = new KmsKey(this, 'key', {
      description: `${props.name}: runtime artifacts`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: keyPolicy.json,
      tags: { Name: `${props.name}-artifacts` },
    });
    new KmsAlias(this, 'key-alias', { name: `alias/${props.name}-artifacts`, targetKeyId: this.key.keyId });

    this.bucket = new S3Bucket(this, 'bucket', { bucketPrefix: `${props.name}-artifacts-`, tags: { Name: `${props.name}-artifacts` } });
    makeBucketPrivate(
      this,
      this.bucket,
      this.key,
      { ownership: 'ownership', publicAccess: 'public-access', encryption: 'encryption', versioning: 'versioning', lifecycle: 'lifecycle', policyDocument: 'bucket-policy-doc', policy: 'bucket-policy' },
      { ruleId: 'expire-replaced-versions', noncurrentDays, abortIncompleteUploadDays: 1 },
    );
  }
}
