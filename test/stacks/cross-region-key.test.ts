import { rmSync } from 'node:fs';
import { parse } from 'yaml';
import { staging } from '../../envs/staging';
import type { EnvironmentConfig } from '../../envs/types';
import { CROSS_REGION_KEY_NAME, RUNTIME_SECRET_ENV } from '../../contract/secrets';
import { EXTERNAL_PROVIDER_POOL } from '../../constructs/workloads/runtime-configs';
import { ProxyConfigSchema } from '../../runtime/proxy/config';
import { crossRegionKeySecretName } from '../../stacks';
import { synthApp, SynthesizedApp } from '../support/synth';

/**
 * The cross-region key and the external provider's key, end to end in the synthesized stacks of
 * a two-region environment (staging, with an external provider added): the secret, its replica,
 * the grants, the delivery to the proxies, and the rendered proxy config that uses them.
 */
describe('the cross-region key and the external provider in the stacks', () => {
  const env: EnvironmentConfig = {
    ...staging,
    externalProvider: { baseUrl: 'https://api.deepseek.com', model: 'deepseek-reasoner', apiKeySecretName: 'surgeguard/staging/deepseek-api-key', maxConcurrency: 32 },
  };
  const [home, other] = env.regions.map((r) => r.region);
  const keyName = crossRegionKeySecretName(env.name);
  let app: SynthesizedApp;
  beforeAll(() => {
    app = synthApp([env]);
  }, 180_000);
  afterAll(() => rmSync(app.outdir, { recursive: true, force: true }));

  const all = (stack: string, type: string, kind: 'resource' | 'data' = 'resource') => Object.entries(app.stack(stack)[kind]?.[type] ?? {}) as [string, any][];
  const policyDocs = (stack: string) => new Map(all(stack, 'aws_iam_policy_document', 'data'));
  /** The statements of an inline role policy, read from the policy document it references. */
  const statementsOf = (stack: string, policy: any): any[] => {
    const id = /\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}/.exec(policy.policy)![1];
    return policyDocs(stack).get(id).statement;
  };

  it('keeps one generated key per environment in the first region, replicated to the other, each copy under its region\'s Redis key', () => {
    const secrets = all(`${env.name}-${home}`, 'aws_secretsmanager_secret').filter(([, s]) => s.name === keyName);
    expect(secrets).toHaveLength(1);
    const [, secret] = secrets[0];
    const redisKey = all(`${env.name}-${home}`, 'aws_kms_key').find(([, k]) => /ElastiCache/.test(k.description))![0];
    expect(secret.kms_key_id).toBe(`\${aws_kms_key.${redisKey}.arn}`);
    expect(secret.replica).toEqual([{ region: other, kms_key_id: expect.stringMatching(/^\$\{data\.terraform_remote_state\.[^}]+\}$/) }]);
    // the other region holds no secret of that name itself: its copy is the replica
    expect(all(`${env.name}-${other}`, 'aws_secretsmanager_secret').filter(([, s]) => s.name === keyName)).toHaveLength(0);
  });

  it('has AWS generate the value: the version references the random password, so no value is in the synth output', () => {
    const stack = `${env.name}-${home}`;
    const [secretId] = all(stack, 'aws_secretsmanager_secret').find(([, s]) => s.name === keyName)!;
    const [, version] = all(stack, 'aws_secretsmanager_secret_version').find(([, v]) => v.secret_id === `\${aws_secretsmanager_secret.${secretId}.id}`)!;
    expect(version.secret_string).toMatch(/^\$\{data\.aws_secretsmanager_random_password\.[^.]+\.random_password\}$/);
    expect(version.lifecycle).toEqual({ ignore_changes: ['secret_string'] });
    const random = all(stack, 'aws_secretsmanager_random_password', 'data').find(([id]) => version.secret_string.includes(id))![1];
    expect(random).toMatchObject({ password_length: 64, exclude_punctuation: true });
  });

  it('lets each region\'s proxy role read its own region\'s copy only, and decrypt it with that region\'s key only', () => {
    const stack = `${env.name}-${home}`;
    const [secretId] = all(stack, 'aws_secretsmanager_secret').find(([, s]) => s.name === keyName)!;
    const arn = `\${aws_secretsmanager_secret.${secretId}.arn}`;
    const grants = all(stack, 'aws_iam_role_policy').filter(([, p]) => p.name === 'surgeguard-staging-cross-region-key-read');
    expect(grants).toHaveLength(2);
    const byRole = new Map(grants.map(([, p]) => [p.role, statementsOf(stack, p)]));
    const ownRole = [...byRole.keys()].find((r) => r.startsWith('${aws_iam_role.'))!;
    const otherRole = [...byRole.keys()].find((r) => r.includes('terraform_remote_state'))!;
    expect(byRole.get(ownRole)).toEqual([
      expect.objectContaining({ sid: 'ReadSecret', actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [arn] }),
      expect.objectContaining({ sid: 'DecryptSecret', actions: ['kms:Decrypt'], resources: [expect.stringMatching(/^\$\{aws_kms_key\./)] }),
    ]);
    expect(byRole.get(otherRole)).toEqual([
      expect.objectContaining({ sid: 'ReadSecret', resources: [`\${replace(${arn.slice(2, -1)}, ":secretsmanager:${home}:", ":secretsmanager:${other}:")}`] }),
      expect.objectContaining({ sid: 'DecryptSecret', resources: [expect.stringMatching(/terraform_remote_state/)] }),
    ]);
  });

  it.each(env.regions.map((r) => r.region))('delivers the key and the provider\'s key to the proxies of %s by the runtime secrets\' path, and to the proxies only', (region) => {
    const stack = `${env.name}-${region}-workloads`;
    const [, spc] = all(stack, 'kubernetes_manifest').find(([, m]) => m.manifest.kind === 'SecretProviderClass')!;
    const objects = parse(spc.manifest.spec.parameters.objects) as { objectName: string; objectAlias: string }[];
    expect(objects).toEqual(
      expect.arrayContaining([
        { objectName: keyName, objectAlias: RUNTIME_SECRET_ENV.crossRegionKey.toLowerCase() },
        { objectName: env.externalProvider!.apiKeySecretName, objectAlias: RUNTIME_SECRET_ENV.externalProviderKey.toLowerCase() },
      ]),
    );
    expect(spc.manifest.spec.secretObjects[0].data).toEqual(
      expect.arrayContaining([
        { objectName: RUNTIME_SECRET_ENV.crossRegionKey.toLowerCase(), key: RUNTIME_SECRET_ENV.crossRegionKey },
        { objectName: RUNTIME_SECRET_ENV.externalProviderKey.toLowerCase(), key: RUNTIME_SECRET_ENV.externalProviderKey },
      ]),
    );
    const envOf = (name: string) => {
      const [, d] = all(stack, 'kubernetes_deployment_v1').find(([, x]) => x.metadata.name === name)!;
      return d.spec.template.spec.container[0].env as { name: string; value?: string; value_from?: any }[];
    };
    for (const name of [RUNTIME_SECRET_ENV.crossRegionKey, RUNTIME_SECRET_ENV.externalProviderKey]) {
      const v = envOf('surgeguard-proxy').find((e) => e.name === name)!;
      expect(v.value).toBeUndefined();
      expect(v.value_from.secret_key_ref).toEqual({ name: 'surgeguard-runtime-secrets', key: name, optional: false });
      expect(envOf('surgeguard-worker').find((e) => e.name === name)).toBeUndefined();
    }
  });

  it.each(env.regions.map((r) => r.region))('renders for %s a proxy config the proxy accepts: local pods, the other region with the key, the provider last; the key accepted from the other region', (region) => {
    const stack = `${env.name}-${region}-workloads`;
    const [, map] = all(stack, 'kubernetes_config_map_v1').find(([, m]) => m.data?.['proxy.yaml'] !== undefined)!;
    const config = ProxyConfigSchema.parse(parse(map.data['proxy.yaml']));
    const otherRegion = region === home ? other : home;
    expect(config.routes[0].pools).toEqual([
      'model-servers',
      `region-${otherRegion}`,
      { pool: EXTERNAL_PROVIDER_POOL, model: 'deepseek-reasoner', classes: ['critical', 'high', 'medium'] },
    ]);
    expect(config.pools[`region-${otherRegion}`].upstreams[0]).toMatchObject({ url: `https://${otherRegion}.${env.domain}`, apiKey: { fromEnv: RUNTIME_SECRET_ENV.crossRegionKey } });
    expect(config.pools[EXTERNAL_PROVIDER_POOL].upstreams[0]).toMatchObject({ url: 'https://api.deepseek.com', apiKey: { fromEnv: RUNTIME_SECRET_ENV.externalProviderKey }, slots: 32 });
    const auth = config.auth as Exclude<typeof config.auth, 'none'>;
    expect(auth.keys.find((k) => k.name === CROSS_REGION_KEY_NAME)).toMatchObject({ key: { fromEnv: RUNTIME_SECRET_ENV.crossRegionKey }, tier: 'critical', firstPoolOnly: true });
  });

  it.each(env.regions.map((r) => r.region))('lets the proxy role of %s read the provider\'s secret of its own region by its ARN, found by name at plan time', (region) => {
    const stack = `${env.name}-${region}`;
    const [id, secret] = all(stack, 'aws_secretsmanager_secret', 'data')[0];
    expect(secret).toEqual(expect.objectContaining({ name: env.externalProvider!.apiKeySecretName }));
    const [, grant] = all(stack, 'aws_iam_role_policy').find(([, p]) => p.name === 'surgeguard-staging-deepseek-api-key-read')!;
    expect(grant.role).toMatch(/^\$\{aws_iam_role\./);
    expect(statementsOf(stack, grant)).toEqual([expect.objectContaining({ actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [`\${data.aws_secretsmanager_secret.${id}.arn}`] })]);
  });

  it('applies the second region\'s workloads after the cell holding the key (its replica exists before the proxies mount it)', () => {
    const holder = app.stacks[0].platforms[0];
    expect(app.stacks[0].workloads[1].dependencies).toContain(holder);
    expect(app.stacks[0].platforms[0].crossRegionKey).toBeDefined();
    expect(app.stacks[0].platforms[1].crossRegionKey).toBeUndefined();
  });
});
