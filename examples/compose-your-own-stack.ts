/**
 * Composing surgeguard's constructs inside your own cdktf app, as a consumer of the package: one
 * region (your own VPC CIDR, your existing certificate and zone, the GSLB in front) and, in a later
 * stack, the proxy, worker and model servers inside its cluster, deployed from the bundles the
 * package ships. docs/library.md quotes the part between the docs markers.
 * test/examples/compose-your-own-stack.test.ts synthesizes this file in the repository;
 * test/package/consumer.test.ts copies it into a fresh project that installs the packed library,
 * compiles it there, synthesizes it and runs `terraform validate` on its AWS stacks.
 */
// docs:start
import { App, Fn, S3Backend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  ArtifactStore,
  GlobalTrafficManager,
  InferenceCluster,
  InferenceWorkloads,
  MessageQueue,
  ModelWeightsBucket,
  NAMESPACES,
  Network,
  RedisCluster,
  RegionalLoadBalancer,
  RUNTIME_SECRET_ENV,
  RuntimeArtifactObjects,
  WORKER_CONTRACT,
  WORKLOAD_NAMES,
  loadRuntimeArtifacts,
  modelServerUrl,
  proxyRuntimeConfig,
  workerRuntimeConfig,
} from 'surgeguard/constructs';

const region = 'eu-central-1';

function awsAndBackend(stack: TerraformStack, id: string): void {
  new AwsProvider(stack, 'aws', { region, defaultTags: [{ tags: { team: 'ml-platform' } }] });
  new S3Backend(stack, { bucket: 'my-tf-state', key: `${id}.tfstate`, region, encrypt: true });
  stack.addOverride('terraform.backend.s3.use_lockfile', true);
}

/** The cell's AWS side: network, cluster, load balancers, data stores, artifact bucket, GSLB. */
export class MyInferenceStack extends TerraformStack {
  public readonly cluster: InferenceCluster;
  public readonly redis: RedisCluster;
  public readonly queue: MessageQueue;
  public readonly artifacts: ArtifactStore;
  public readonly roles: { readonly proxy: IamRole; readonly worker: IamRole; readonly modelServer: IamRole };
  public readonly weightsUri: string;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    awsAndBackend(this, id);

    const network = new Network(this, 'network', { name: 'llm-euc1', region, cidrBlock: '10.80.0.0/16' });
    const cluster = new InferenceCluster(this, 'cluster', {
      name: 'llm-euc1',
      region,
      kubernetesVersion: '1.32',
      subnetIds: network.privateSubnetIds,
      adminPrincipalArns: ['arn:aws:iam::123456789012:role/ml-platform-ci'],
      cpuNodes: { instanceTypes: ['m7i.xlarge'], min: 2, max: 6, desired: 2 },
      gpuOnDemand: { instanceTypes: ['g6e.2xlarge'], min: 1, max: 2, desired: 1 },
      gpuSpot: { instanceTypes: ['g6e.2xlarge', 'g5.2xlarge', 'g6.2xlarge'], min: 0, max: 8, desired: 0 },
    });
    const entry = new RegionalLoadBalancer(this, 'entry', {
      name: 'llm-euc1',
      vpcId: network.vpcId,
      publicSubnetIds: network.publicSubnetIds,
      privateSubnetIds: network.privateSubnetIds,
      domainName: 'llm.example.org',
      certificateArn: 'arn:aws:acm:eu-central-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
      targetSecurityGroupId: cluster.clusterSecurityGroupId,
      targetAutoScalingGroupNames: [cluster.cpuAutoScalingGroupName],
      stickinessDurationSeconds: 600,
    });
    new GlobalTrafficManager(this, 'gslb', {
      name: 'llm',
      domainName: 'llm.example.org',
      hostedZoneId: 'Z0EXAMPLE12345',
      regions: [{ region, dnsName: entry.dnsName, canonicalHostedZoneId: entry.canonicalHostedZoneId, loadBalancerArn: entry.nlb.arn }],
    });

    // Private data stores, reachable from the cluster's nodes only; the bundles' bucket; the weights.
    const reach = { vpcId: network.vpcId, subnetIds: network.privateSubnetIds, allowedSecurityGroupIds: [cluster.clusterSecurityGroupId] };
    this.redis = new RedisCluster(this, 'redis', { name: 'llm-euc1', ...reach });
    this.queue = new MessageQueue(this, 'queue', { name: 'llm-euc1', ...reach });
    this.artifacts = new ArtifactStore(this, 'artifacts', { name: 'llm-euc1', region });
    const weights = new ModelWeightsBucket(this, 'model-weights', { name: 'llm-euc1', region });

    // One IRSA role per workload, each reading only its own secrets and objects.
    const role = (name: string, namespace: string) => cluster.createServiceAccountRole(`${name}-role`, { namespace, serviceAccount: name });
    const proxy = role(WORKLOAD_NAMES.proxy, NAMESPACES.app.name);
    const worker = role(WORKLOAD_NAMES.worker, NAMESPACES.app.name);
    const modelServer = role(WORKLOAD_NAMES.modelServer, NAMESPACES.inference.name);
    for (const [r, grant] of [[proxy, 'proxy-read'], [worker, 'worker-read']] as const) {
      this.redis.grantReadAuthToken(r.name, grant);
      this.queue.grantReadCredentials(r.name, grant);
    }
    const prefix = 'deepseek-r1-distill-qwen-7b';
    weights.grantRead(modelServer.name, prefix, 'model-server-read');
    this.weightsUri = weights.uri(prefix);
    this.cluster = cluster;
    this.roles = { proxy, worker, modelServer };
  }
}

/** Inside the cluster (a later stack: its Kubernetes provider needs the cluster to exist). */
export class MyWorkloadsStack extends TerraformStack {
  constructor(scope: Construct, id: string, cell: MyInferenceStack) {
    super(scope, id);
    awsAndBackend(this, id);
    const cluster = cell.cluster;
    new KubernetesProvider(this, 'kubernetes', {
      host: cluster.clusterEndpoint,
      clusterCaCertificate: Fn.base64decode(cluster.clusterCertificateAuthorityData),
      exec: [{ apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'aws', args: ['eks', 'get-token', '--cluster-name', cluster.clusterName, '--region', region] }],
    });

    // The proxy and worker bundles shipped in the package, uploaded under their SHA-256.
    const bundles = loadRuntimeArtifacts();
    const upload = (name: 'proxy' | 'worker') => {
      const objects = new RuntimeArtifactObjects(this, `artifact-${name}`, {
        artifact: bundles[name],
        bucketName: cell.artifacts.bucket.bucket,
        bucketArn: cell.artifacts.bucket.arn,
        kmsKeyArn: cell.artifacts.key.arn,
        region,
      });
      objects.grantRead(cell.roles[name].name);
      return objects;
    };
    const configInputs = {
      modelName: 'deepseek-r1-7b',
      modelServerUrl: modelServerUrl(NAMESPACES.inference.name),
      modelServerSlots: 64,
      redisHost: cell.redis.configurationEndpoint,
      region,
      // SHA-256 of each API key (`printf %s "$KEY" | sha256sum`); this one is of a random key nobody holds.
      apiKeys: [{ name: 'ml-platform', sha256: 'baaf7166115c2a44a16fe9b75f8398fa3b006837b3ac6f48a470f2ddf374092b', tier: 'high' }],
      workerDrainSeconds: WORKER_CONTRACT.terminationGracePeriodSeconds,
    };
    const secretEnv = [
      { envName: RUNTIME_SECRET_ENV.redisAuthToken, secretArn: cell.redis.authToken.secretArn },
      { envName: RUNTIME_SECRET_ENV.amqpUrl, secretArn: cell.queue.connectionUrlSecretArn },
    ];
    new InferenceWorkloads(this, 'workloads', {
      modelServer: {
        image: 'vllm/vllm-openai:v0.8.5@sha256:6cf9808ca8810fc6c3fd0451c2e7784fb224590d81f7db338e7eaf3c02a33d33',
        modelId: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B',
        servedModelName: 'deepseek-r1-7b',
        weights: { s3Uri: cell.weightsUri, region, roleArn: cell.roles.modelServer.arn },
        tensorParallelSize: 1,
        maxConcurrentSequences: 64,
      },
      proxy: { artifact: upload('proxy'), config: proxyRuntimeConfig(configInputs), secretEnv, roleArn: cell.roles.proxy.arn },
      worker: { artifact: upload('worker'), config: workerRuntimeConfig(configInputs), secretEnv, roleArn: cell.roles.worker.arn },
      launcher: bundles.launcher,
    });
  }
}

/** Synthesizes the app into `outdir`. */
export function synthesizeExample(outdir = 'cdktf.out'): App {
  const app = new App({ outdir });
  const cell = new MyInferenceStack(app, 'my-inference');
  new MyWorkloadsStack(app, 'my-inference-workloads', cell);
  app.synth();
  return app;
}
// docs:end

if (require.main === module) synthesizeExample();
