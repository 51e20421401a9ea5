import { App } from 'cdktf';
import { selectEnvironments } from './envs';
import { buildEnvironment } from './stacks';

/**
 * The cdktf app: synthesizes the environment(s) named by SURGEGUARD_ENV (`dev` by default, `all` for
 * every one) into `outdir` — by default `cdktf.out/`, or wherever `cdktf synth --output` points
 * (the CLI passes it as CDKTF_OUTDIR, which cdktf's App reads when no outdir is given).
 * Run through `npm run synth` or `npx cdktf synth`.
 */
export function synthesize(selector = process.env.SURGEGUARD_ENV ?? 'dev', outdir?: string): App {
  const app = new App(outdir === undefined ? {} : { outdir });
  for (const env of selectEnvironments(selector)) buildEnvironment(app, env);
  app.synth();
  return app;
}

if (require.main === module) synthesize();
