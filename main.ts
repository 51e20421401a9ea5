import { App } from 'cdktf';
import { selectEnvironments } from './envs';
import { buildEnvironment } from './stacks';

/**
 * The cdktf app: synthesizes the environment(s) named by SURGEGUARD_ENV (`dev` by default, `all` for
 * every one) into `cdktf.out/`. Run through `npm run synth` or `npx cdktf synth`.
 */
export function synthesize(selector = process.env.SURGEGUARD_ENV ?? 'dev', outdir = 'cdktf.out'): App {
  const app = new App({ outdir, skipValidation: false });
  for (const env of selectEnvironments(selector)) buildEnvironment(app, env);
  app.synth();
  return app;
}

if (require.main === module) synthesize();
