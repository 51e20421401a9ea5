import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { ConfigMapV1 } from '@cdktf/provider-kubernetes/lib/config-map-v1';
import { JobV1 } from '@cdktf/provider-kubernetes/lib/job-v1';
import { ServiceAccountV1 } from '@cdktf/provider-kubernetes/lib/service-account-v1';
import { NODE_POOL_LABEL } from '../cluster/node-group';
import { CONTAINER_SECURITY, NAME_LABEL } from '../private/kubernetes';
import { checkImagePinned } from '../private/images';
import { PropsValidator } from '../private/validation';
import { SCRATCH_DIR } from './names';

/** Name of the staging Job, its service account and its pods' `app.kubernetes.io/name`. */
export const WEIGHTS_STAGER_NAME = 'surgeguard-weights-stager';

/** Object written last under the prefix: which commit is staged and every file's content id. */
export const WEIGHTS_MANIFEST_FILE = '.surgeguard-staged.json';

/**
 * Kubernetes Secret (in the Job's namespace, key `token`) whose value the Job passes to the hub as
 * `HF_TOKEN`, for gated models. Optional: without it the Job downloads anonymously. Created by hand
 * (`kubectl create secret generic`), so the token is in neither Terraform's state nor the synth output.
 */
export const HUB_TOKEN_SECRET = { name: 'surgeguard-hf-token', key: 'token' } as const;

/** Where the script is mounted in the staging container. */
const SCRIPT_DIR = '/opt/surgeguard';

/**
 * The staging program, run by the model server's own (digest-pinned) vLLM image, which ships
 * python3, `huggingface_hub` and `boto3`. `plan` is the whole decision and imports nothing, so it is
 * tested on its own (test/constructs/workloads/weights-staging.test.ts); `main` does the I/O.
 */
export const WEIGHTS_STAGE_SCRIPT = String.raw`"""Copy one model revision from the Hugging Face Hub into s3://$WEIGHTS_BUCKET/$WEIGHTS_PREFIX/.

Idempotent and re-runnable: a file whose S3 copy carries the hub's content id (the LFS sha256, or
the git blob id of small files) is skipped; a prefix whose manifest names the same commit and whose
files all match is left alone; a prefix holding another commit is refused, so running model servers
never see a mix of two revisions. One file at a time through the scratch volume, deleted after
upload: the disk needs room for the largest file only.
"""
import json
import os
import sys

MANIFEST = "${WEIGHTS_MANIFEST_FILE}"
SUFFIXES = (".safetensors", ".json", ".model", ".txt", ".py", ".tiktoken", ".jinja")
META_ID = "surgeguard-content-id"


def wanted(path):
    """Files vLLM reads: weights, configs, tokenizer and chat template; not README, images, .gitattributes."""
    return path.endswith(SUFFIXES) and not path.startswith(".") and "/." not in path


def plan(files, existing, manifest, commit):
    """files: {path: content id} at the hub commit; existing: {path: content id of the S3 copy, or None};
    manifest: the prefix's manifest (dict) or None. Returns {action: skip|copy|refuse, copy: [paths], reason}."""
    if manifest is not None and manifest.get("commit") != commit:
        return {"action": "refuse", "copy": [], "reason": "the prefix holds commit %s; staging %s into it would mix revisions under running model servers: "
                "stage the new revision under a new model id, or delete %s to replace it" % (manifest.get("commit"), commit, MANIFEST)}
    todo = sorted(p for p, cid in files.items() if existing.get(p) != cid)
    if manifest is not None and not todo and manifest.get("files") == files:
        return {"action": "skip", "copy": [], "reason": "commit %s is staged: all %d files match" % (commit, len(files))}
    return {"action": "copy", "copy": todo, "reason": "%d of %d files to copy" % (len(todo), len(files))}


def log(event, **fields):
    print(json.dumps(dict(event=event, **fields), sort_keys=True), flush=True)


def main():
    import boto3
    from botocore.exceptions import ClientError
    from huggingface_hub import HfApi, hf_hub_download

    repo, revision = os.environ["MODEL_ID"], os.environ["MODEL_REVISION"]
    bucket, prefix, key_arn = os.environ["WEIGHTS_BUCKET"], os.environ["WEIGHTS_PREFIX"], os.environ["WEIGHTS_KMS_KEY_ARN"]
    info = HfApi().model_info(repo, revision=revision, files_metadata=True)
    commit = info.sha
    files = {}
    for s in info.siblings:
        if not wanted(s.rfilename):
            continue
        lfs = s.lfs
        sha = (lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)) if lfs else None
        files[s.rfilename] = sha or s.blob_id
    if not any(p.endswith(".safetensors") for p in files):
        raise SystemExit("%s@%s has no .safetensors files: vLLM's streamer loads only safetensors" % (repo, commit))
    s3 = boto3.client("s3")

    def head(path):
        try:
            return s3.head_object(Bucket=bucket, Key="%s/%s" % (prefix, path))["Metadata"].get(META_ID)
        except ClientError as e:
            if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    try:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key="%s/%s" % (prefix, MANIFEST))["Body"].read())
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
        manifest = None
    decision = plan(files, {p: head(p) for p in files}, manifest, commit)
    log("plan", model=repo, revision=revision, commit=commit, **decision)
    if decision["action"] == "refuse":
        return 2
    if decision["action"] == "skip":
        return 0
    scratch = os.path.join(os.environ.get("TMPDIR", "/tmp"), "download")
    for path in decision["copy"]:
        local = hf_hub_download(repo, path, revision=commit, local_dir=scratch)
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn, "Metadata": {META_ID: files[path], "surgeguard-commit": commit}}
        size = os.path.getsize(local)
        s3.upload_file(local, bucket, "%s/%s" % (prefix, path), ExtraArgs=extra)
        os.remove(local)
        log("copied", path=path, bytes=size)
    body = json.dumps({"model": repo, "commit": commit, "files": files}, sort_keys=True).encode()
    s3.put_object(Bucket=bucket, Key="%s/%s" % (prefix, MANIFEST), Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    log("staged", model=repo, commit=commit, files=len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
`;

export interface WeightsStagingJobProps {
  /** Namespace of the Job and its service account (must match the IRSA trust of `roleArn`). */
  readonly namespace: string;
  /** Image that runs the script: the model server's vLLM image (python3, huggingface_hub, boto3), by digest. */
  readonly image: string;
  /** Hugging Face model id to copy (`deepseek-ai/DeepSeek-V3`). */
  readonly modelId: string;
  /** Hub revision: a commit sha (recommended) or a branch, resolved to its commit when the Job runs. */
  readonly revision: string;
  /** Bucket name (the cell's ModelWeightsBucket). */
  readonly bucketName: string;
  /** Key prefix of the model in the bucket, no slashes at either end. */
  readonly prefix: string;
  /** ARN of the bucket's KMS key (uploads name it: the bucket policy refuses any other). */
  readonly kmsKeyArn: string;
  /** IRSA role that may write only under `prefix` (`ModelWeightsBucket.grantStage`). */
  readonly roleArn: string;
  /** AWS region of the bucket. */
  readonly region: string;
  /** Size of the model's weights in GB, to bound the Job's run time. */
  readonly weightsGB: number;
  /**
   * Slowest hub download rate to allow for, MB/s: the Job gets twice the time the copy takes at it.
   * @default 50
   */
  readonly minDownloadMBps?: number;
  /**
   * Scratch space for one file at a time (the largest safetensors shard is a few GB).
   * @default '20Gi'
   */
  readonly scratchSize?: string;
  /**
   * Node selector: the CPU pool (never a GPU node).
   * @default { 'surgeguard.io/pool': 'cpu' }
   */
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

/**
 * Stages a model in the cell's weights bucket: a Kubernetes Job that copies one hub revision into
 * `s3://<bucket>/<prefix>/` with an IRSA role that may write only under that prefix. It runs once per
 * apply that creates it (a new revision replaces the Job, so it runs again) and is idempotent: a
 * re-run skips every file already copied and refuses to mix two revisions (see WEIGHTS_STAGE_SCRIPT).
 * Terraform does not wait for it (a 700 GB copy takes hours): the model servers' startup fails and
 * restarts until the manifest and files are there. docs/weights-staging.md.
 */
export class WeightsStagingJob extends Construct {
  /** The service account (annotated with the staging role). */
  public readonly serviceAccount: ServiceAccountV1;
  /** The script, mounted read-only. */
  public readonly script: ConfigMapV1;
  /** The Job. */
  public readonly job: JobV1;
  /** Deadline of a run, seconds. */
  public readonly activeDeadlineSeconds: number;

  constructor(scope: Construct, id: string, props: WeightsStagingJobProps) {
    super(scope, id);
    const v = new PropsValidator('WeightsStagingJob', id);
    checkImagePinned(v, 'image', props.image);
    v.matches('revision', props.revision, /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/, `"${props.revision}" must be a hub commit sha or branch name`);
    if (!Token.isUnresolved(props.prefix)) v.matches('prefix', props.prefix, /^[A-Za-z0-9][A-Za-z0-9._\-/]*[A-Za-z0-9._-]$/, `"${props.prefix}" must be a relative key path`);
    v.check('weightsGB', props.weightsGB, (g) => g > 0, `must be a positive number of GB, got ${props.weightsGB}`);
    const rate = props.minDownloadMBps ?? 50;
    v.check('minDownloadMBps', rate, (r) => r > 0, `must be a positive rate, got ${rate}`);
    // Twice the copy time at the slowest rate allowed for, at least an hour.
    this.activeDeadlineSeconds = Math.max(3600, Math.ceil(((props.weightsGB * 1000) / rate) * 2));
    const labels = { [NAME_LABEL]: WEIGHTS_STAGER_NAME, 'app.kubernetes.io/part-of': 'surgeguard' };

    this.serviceAccount = new ServiceAccountV1(this, 'service-account', {
      metadata: { name: WEIGHTS_STAGER_NAME, namespace: props.namespace, labels, annotations: { 'eks.amazonaws.com/role-arn': props.roleArn } },
    });
    this.script = new ConfigMapV1(this, 'script', {
      metadata: { name: `${WEIGHTS_STAGER_NAME}-script`, namespace: props.namespace, labels },
      data: { 'stage_weights.py': WEIGHTS_STAGE_SCRIPT },
    });
    this.job = new JobV1(this, 'job', {
      metadata: { name: WEIGHTS_STAGER_NAME, namespace: props.namespace, labels: { ...labels, 'surgeguard.io/model-revision': props.revision.slice(0, 63).replace(/[^A-Za-z0-9._-]/g, '-') } },
      spec: {
        backoffLimit: 3,
        activeDeadlineSeconds: this.activeDeadlineSeconds,
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: this.serviceAccount.metadata.name,
            restartPolicy: 'Never',
            nodeSelector: { ...(props.nodeSelector ?? { [NODE_POOL_LABEL]: 'cpu' }) },
            securityContext: { runAsNonRoot: true, runAsUser: '1000', runAsGroup: '1000', fsGroup: '1000', seccompProfile: { type: 'RuntimeDefault' } },
            container: [
              {
                name: 'stage',
                image: props.image,
                command: ['python3', `${SCRIPT_DIR}/stage_weights.py`],
                env: [
                  { name: 'MODEL_ID', value: props.modelId },
                  { name: 'MODEL_REVISION', value: props.revision },
                  { name: 'WEIGHTS_BUCKET', value: props.bucketName },
                  { name: 'WEIGHTS_PREFIX', value: props.prefix },
                  { name: 'WEIGHTS_KMS_KEY_ARN', value: props.kmsKeyArn },
                  { name: 'AWS_REGION', value: props.region },
                  { name: 'AWS_DEFAULT_REGION', value: props.region },
                  { name: 'HOME', value: SCRATCH_DIR },
                  { name: 'TMPDIR', value: SCRATCH_DIR },
                  { name: 'HF_HOME', value: `${SCRATCH_DIR}/huggingface` },
                  { name: 'HF_HUB_ENABLE_HF_TRANSFER', value: '1' },
                  // huggingface_hub reads HF_TOKEN for every call; absent secret = anonymous (public models).
                  { name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: HUB_TOKEN_SECRET.name, key: HUB_TOKEN_SECRET.key, optional: true } } },
                  { name: 'HF_HUB_DISABLE_TELEMETRY', value: '1' },
                  { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
                ],
                resources: { requests: { cpu: '2', memory: '8Gi' }, limits: { memory: '8Gi' } },
                securityContext: CONTAINER_SECURITY,
                volumeMount: [
                  { name: 'script', mountPath: SCRIPT_DIR, readOnly: true },
                  { name: 'scratch', mountPath: SCRATCH_DIR },
                ],
              },
            ],
            volume: [
              { name: 'script', configMap: { name: this.script.metadata.name } },
              { name: 'scratch', emptyDir: { sizeLimit: props.scratchSize ?? '20Gi' } },
            ],
          },
        },
      },
      // A copy of hundreds of GB outlives any apply: the model servers wait for it instead.
      waitForCompletion: false,
    });
  }
}
