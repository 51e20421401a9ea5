import { DeploymentV1 } from '@cdktf/provider-kubernetes/lib/deployment-v1';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { App, Aspects, TerraformStack } from 'cdktf';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ImagesPinnedByDigest } from '../../stacks/images-pinned';
import { renderCellManifests } from '../../scripts/manifests';
import { synthesize } from '../../main';
import { ENVIRONMENTS } from '../../envs';

const PINNED = `registry.example.com/tool:1.0@sha256:${'ab'.repeat(32)}`;

function synthWith(images: { deployment: string; manifest?: string }, exempt: string[] = []): void {
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-images-'));
  try {
    const app = new App({ outdir: dir });
    const stack = new TerraformStack(app, 'cell-workloads');
    new KubernetesProvider(stack, 'k8s', {});
    Aspects.of(stack).add(new ImagesPinnedByDigest(new Set(exempt)));
    new DeploymentV1(stack, 'grafana', {
      metadata: { name: 'grafana' },
      spec: {
        selector: { matchLabels: { app: 'g' } },
        template: { metadata: { labels: { app: 'g' } }, spec: { container: [{ name: 'g', image: images.deployment }] } },
      },
    });
    if (images.manifest) {
      new Manifest(stack, 'job', {
        manifest: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { containers: [{ name: 'j', image: images.manifest }] } } } },
      });
    }
    app.synth();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('images by digest, checked at synth', () => {
  it('lets a stack whose images are all pinned synthesize', () => {
    expect(() => synthWith({ deployment: PINNED, manifest: PINNED })).not.toThrow();
  });

  it('fails synth on a Deployment image by tag, naming the workload and the image', () => {
    expect(() => synthWith({ deployment: 'grafana/grafana:11.6.1' })).toThrow(
      'cell-workloads/grafana: image "grafana/grafana:11.6.1" is not pinned by digest',
    );
  });

  it('fails synth on an image inside a kubernetes_manifest', () => {
    expect(() => synthWith({ deployment: PINNED, manifest: 'busybox:1.36' })).toThrow('cell-workloads/job: image "busybox:1.36" is not pinned by digest');
  });

  it('allows only the listed exemptions', () => {
    expect(() => synthWith({ deployment: 'ghcr.io/acme/app:1.0' }, ['ghcr.io/acme/app:1.0'])).not.toThrow();
  });

  it('every image of every shipped cell is pinned by digest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'surgeguard-images-all-'));
    try {
      synthesize('all', dir);
      for (const env of Object.values(ENVIRONMENTS)) {
        for (const r of env.regions) {
          const images = renderCellManifests(dir, env.name, r.region).objects.flatMap((o) => JSON.stringify(o.object).match(/"image":"[^"]+"/g) ?? []);
          const tags = [...new Set(images.map((i) => i.slice(9, -1)).filter((i) => !i.includes('@sha256:')))];
          expect(tags).toEqual([]);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
