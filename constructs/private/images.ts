import { PropsValidator } from './validation';

/** `<repository>[:<tag>]@sha256:<64 hex>`: an image reference that cannot change under the same name. */
export const IMAGE_BY_DIGEST = /^[a-z0-9][a-z0-9._\-/:]*(:[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$/;

/** True when `image` names its content by digest. */
export function isPinnedByDigest(image: string): boolean {
  return IMAGE_BY_DIGEST.test(image);
}

/** Fails naming the prop unless `image` is pinned by digest (a mutable tag can change what runs without a synth diff). */
export function checkImagePinned(v: PropsValidator, prop: string, image: string): void {
  v.check(prop, image, isPinnedByDigest, (i) => `"${i}" must be pinned by digest (image[:tag]@sha256:<64 hex>), not a mutable tag`);
}
