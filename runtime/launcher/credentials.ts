import { readFileSync } from 'node:fs';

/** Temporary (or, locally, static) AWS credentials. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export type FetchLike = (url: string, init: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<Response>;

function xmlValue(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
}

/**
 * Credentials from the pod's environment, in the order the AWS SDKs use for EKS pods:
 * static keys (local use), IRSA (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged at STS
 * with AssumeRoleWithWebIdentity — an unsigned call), then EKS Pod Identity
 * (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + its authorization token file).
 */
export async function resolveCredentials(env: NodeJS.ProcessEnv, region: string, fetchFn: FetchLike, stsEndpoint?: string): Promise<AwsCredentials> {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined };
  }
  if (env.AWS_ROLE_ARN && env.AWS_WEB_IDENTITY_TOKEN_FILE) {
    const token = readFileSync(env.AWS_WEB_IDENTITY_TOKEN_FILE, 'utf8').trim();
    const body = new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: env.AWS_ROLE_ARN,
      RoleSessionName: env.AWS_ROLE_SESSION_NAME || 'surgeguard-launcher',
      WebIdentityToken: token,
      DurationSeconds: '900',
    }).toString();
    const url = stsEndpoint ?? `https://sts.${region}.amazonaws.com/`;
    const res = await fetchFn(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const text = await res.text();
    if (!res.ok) throw new Error(`STS AssumeRoleWithWebIdentity for ${env.AWS_ROLE_ARN} answered ${res.status}: ${xmlValue(text, 'Message') ?? text.slice(0, 200)}`);
    const accessKeyId = xmlValue(text, 'AccessKeyId');
    const secretAccessKey = xmlValue(text, 'SecretAccessKey');
    const sessionToken = xmlValue(text, 'SessionToken');
    if (!accessKeyId || !secretAccessKey || !sessionToken) throw new Error('STS AssumeRoleWithWebIdentity answered without credentials');
    return { accessKeyId, secretAccessKey, sessionToken };
  }
  if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    const auth = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ? readFileSync(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, 'utf8').trim() : undefined;
    const res = await fetchFn(env.AWS_CONTAINER_CREDENTIALS_FULL_URI, { headers: auth ? { authorization: auth } : {} });
    if (!res.ok) throw new Error(`container credentials endpoint answered ${res.status}`);
    const json = (await res.json()) as { AccessKeyId?: string; SecretAccessKey?: string; Token?: string };
    if (!json.AccessKeyId || !json.SecretAccessKey) throw new Error('container credentials endpoint answered without credentials');
    return { accessKeyId: json.AccessKeyId, secretAccessKey: json.SecretAccessKey, sessionToken: json.Token };
  }
  throw new Error('no AWS credentials: the service account needs an IAM role (IRSA annotation or EKS Pod Identity association)');
}
