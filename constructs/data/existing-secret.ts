import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsSecretsmanagerSecret } from '@cdktf/provider-aws/lib/data-aws-secretsmanager-secret';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { Construct } from 'constructs';
import { PropsValidator } from '../private/validation';

export interface ExistingSecretProps {
  /**
   * Name of a Secrets Manager secret someone else created in the stack's region (an external
   * provider's API key): looked up at plan time, so a missing secret stops the plan naming it.
   */
  readonly name: string;
  /**
   * Customer-managed KMS key (in the stack's region) that encrypts the secret: the readers get
   * `kms:Decrypt` on it.
   * @default - the region's `aws/secretsmanager` key, which any principal allowed to read the secret may use through Secrets Manager
   */
  readonly kmsKeyArn?: string;
}

/** Secrets Manager names: letters, digits and `/_+=.@-`, at most 512 characters. */
export const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/**
 * A Secrets Manager secret that exists outside the stacks (a key a person holds, such as a hosted
 * provider's): found by name in the stack's region, never read by Terraform (no value in state),
 * and readable by exactly the roles granted, on its own ARN only.
 */
export class ExistingSecret extends Construct {
  /** The secret's ARN, as Secrets Manager reports it at plan time. */
  public readonly secretArn: string;
  /** The secret's name. */
  public readonly name: string;
  private readonly kmsKeyArn?: string;

  constructor(scope: Construct, id: string, props: ExistingSecretProps) {
    super(scope, id);
    const v = new PropsValidator('ExistingSecret', id);
    v.matches('name', props.name, SECRET_NAME, `"${props.name}" is not a Secrets Manager secret name (letters, digits and /_+=.@-, at most 512): give the name, never the value`);
    if (props.kmsKeyArn !== undefined) v.matches('kmsKeyArn', props.kmsKeyArn, /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/, `"${props.kmsKeyArn}" is not a KMS key ARN`);
    this.name = props.name;
    this.kmsKeyArn = props.kmsKeyArn;
    this.secretArn = new DataAwsSecretsmanagerSecret(this, 'Secret', { name: props.name }).arn;
  }

  /** Lets an IAM role (by name) read this secret only (and decrypt it with its key, when one was given). */
  public grantRead(roleName: string, id = 'ReadPolicy'): IamRolePolicy {
    const statements = [{ sid: 'ReadSecret', actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [this.secretArn] }];
    if (this.kmsKeyArn) statements.push({ sid: 'DecryptSecret', actions: ['kms:Decrypt'], resources: [this.kmsKeyArn] });
    const doc = new DataAwsIamPolicyDocument(this, `${id}Document`, { statement: statements });
    return new IamRolePolicy(this, id, { role: roleName, name: `${this.name.replace(/[^A-Za-z0-9+=,.@_-]/g, '-')}-read`.slice(0, 128), policy: doc.json });
  }
}
