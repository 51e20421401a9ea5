import { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';

/** Key-policy statements shared by the customer-managed KMS keys of the constructs. */

/** The account administers the key through IAM (the root principal delegates to IAM policies). */
export function accountAdministersKey(arnPartition: string, accountId: string): DataAwsIamPolicyDocumentStatement {
  return {
    sid: 'AccountAdministers',
    actions: ['kms:*'],
    resources: ['*'],
    principals: [{ type: 'AWS', identifiers: [`arn:${arnPartition}:iam::${accountId}:root`] }],
  };
}

/**
 * CloudWatch Logs may use the key for exactly one log group (the encryption context names it).
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
 */
export function logsEncryptLogGroup(opts: {
  readonly sid: string;
  readonly arnPartition: string;
  readonly region: string;
  readonly accountId: string;
  readonly logGroupName: string;
}): DataAwsIamPolicyDocumentStatement {
  return {
    sid: opts.sid,
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    principals: [{ type: 'Service', identifiers: [`logs.${opts.region}.amazonaws.com`] }],
    condition: [
      {
        test: 'ArnEquals',
        variable: 'kms:EncryptionContext:aws:logs:arn',
        values: [`arn:${opts.arnPartition}:logs:${opts.region}:${opts.accountId}:log-group:${opts.logGroupName}`],
      },
    ],
  };
}
