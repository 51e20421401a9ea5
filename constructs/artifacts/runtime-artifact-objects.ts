import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { S3Object } from '@cdktf/provider-aws/lib/s3-object';
import { AssetType, TerraformAsset } from 'cdktf';
import { Construct } from 'constructs';
import { ArtifactFile } from '../../contract/launcher';
import { RuntimeArtifact } from './runtime-artifacts';

export interface RuntimeArtifactObjectsProps {
  /** The bundle (and source map) to upload, as `loadRuntimeArtifacts()` found it. */
  readonly artifact: RuntimeArtifact;
  /** Name of the artifact bucket ({@link ArtifactStore.bucket}). */
  readonly bucketName: string;
  /** ARN of the artifact bucket. */
  readonly bucketArn: string;
  /** ARN of the bucket's KMS key. */
  readonly kmsKeyArn: string;
  /** Region of the bucket. */
  readonly region: string;
}

/**
 * One runtime's bundle and source map, uploaded from the synth output (`TerraformAsset`) to the
 * artifact bucket under content-addressed keys (`<name>/<sha256>/<file>`), so a code change is a new
 * key in the synth diff and a rollback finds the old bytes. {@link grantRead} lets exactly one role
 * read exactly these objects.
 */
export class RuntimeArtifactObjects extends Construct {
  /** What the launcher fetches and verifies (bundle first, then source map). */
  public readonly files: readonly ArtifactFile[];
  /** SHA-256 of the bundle. */
  public readonly sha256: string;
  public readonly bucketName: string;
  public readonly region: string;
  /** The runtime's name (`proxy`, `worker`): the bundle is `<name>.js`. */
  public readonly name: string;
  private readonly objectArns: string[];
  private readonly kmsKeyArn: string;

  constructor(scope: Construct, id: string, props: RuntimeArtifactObjectsProps) {
    super(scope, id);
    const a = props.artifact;
    if (!/^[0-9a-f]{64}$/.test(a.sha256)) throw new Error(`RuntimeArtifactObjects ${id}: artifact.sha256 must be 64 hex digits, got "${a.sha256}"`);
    this.name = a.name;
    this.sha256 = a.sha256;
    this.bucketName = props.bucketName;
    this.region = props.region;
    this.kmsKeyArn = props.kmsKeyArn;
    const upload = (suffix: string, path: string, sha256: string, file: string, contentType: string): ArtifactFile => {
      const key = `${a.name}/${sha256}/${file}`;
      const asset = new TerraformAsset(this, `${suffix}-asset`, { path, type: AssetType.FILE });
      new S3Object(this, suffix, {
        bucket: props.bucketName,
        key,
        source: asset.path,
        contentType,
        serverSideEncryption: 'aws:kms',
        kmsKeyId: props.kmsKeyArn,
        bucketKeyEnabled: true,
        // S3 checks the upload against its own SHA-256.
        checksumAlgorithm: 'SHA256',
      });
      return { key, sha256, file };
    };
    this.files = [
      upload('bundle', a.path, a.sha256, `${a.name}.js`, 'application/javascript'),
      upload('source-map', a.sourceMapPath, a.sourceMap.sha256, `${a.name}.js.map`, 'application/json'),
    ];
    this.objectArns = this.files.map((f) => `${props.bucketArn}/${f.key}`);
  }

  /** Lets `roleName` read these objects (and decrypt them through S3 only), nothing else in the bucket. */
  public grantRead(roleName: string, id = 'read'): IamRolePolicy {
    const doc = new DataAwsIamPolicyDocument(this, `${id}-doc`, {
      statement: [
        { sid: 'ReadOwnArtifact', actions: ['s3:GetObject'], resources: this.objectArns },
        {
          sid: 'DecryptThroughS3',
          actions: ['kms:Decrypt'],
          resources: [this.kmsKeyArn],
          condition: [{ test: 'StringEquals', variable: 'kms:ViaService', values: [`s3.${this.region}.amazonaws.com`] }],
        },
      ],
    });
    return new IamRolePolicy(this, id, { role: roleName, name: `surgeguard-${this.name}-artifact-read`, policy: doc.json });
  }
}
