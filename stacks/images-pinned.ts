import { IAspect, TerraformResource } from 'cdktf';
import { IConstruct } from 'constructs';
import { isPinnedByDigest } from '../constructs/private/images';

/** Every string under a key named `image` in a synthesized resource block (containers, init containers, manifests). */
function imagesIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) imagesIn(v, found);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'image' && typeof v === 'string') found.push(v);
      else imagesIn(v, found);
    }
  }
  return found;
}

/**
 * Synth fails when a Kubernetes resource of the stack runs an image that is not pinned by digest,
 * naming the workload (construct path) and the image. `exempt` lists references allowed to stay
 * tags, each for a stated reason.
 */
export class ImagesPinnedByDigest implements IAspect {
  constructor(private readonly exempt: ReadonlySet<string> = new Set()) {}

  public visit(node: IConstruct): void {
    if (!(node instanceof TerraformResource) || !node.terraformResourceType.startsWith('kubernetes_')) return;
    const block = (node.toTerraform() as { resource: Record<string, Record<string, unknown>> }).resource;
    for (const image of imagesIn(block)) {
      if (!isPinnedByDigest(image) && !this.exempt.has(image)) {
        throw new Error(`${node.node.path}: image "${image}" is not pinned by digest (image[:tag]@sha256:<64 hex>): a mutable tag can change what runs without a synth diff`);
      }
    }
  }
}
