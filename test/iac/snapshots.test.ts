import { rmSync } from 'fs';
import { ENVIRONMENTS } from '../../envs';
import { synthApp } from './support/synth';

// Whole-app synths take seconds on a loaded 2-core machine; the default 5 s is too tight.
jest.setTimeout(60_000);

// A complement to the precise assertions: any change to synthesized output shows up in review.
// After an intended change: `npx jest test/iac/snapshots -u` and commit the updated snapshot.
describe.each(Object.keys(ENVIRONMENTS))('%s synth snapshot', (name) => {
  it('matches the reviewed Terraform JSON of every stack', () => {
    const app = synthApp([ENVIRONMENTS[name]]);
    try {
      for (const stack of app.stackNames) expect(app.stack(stack)).toMatchSnapshot(stack);
    } finally {
      rmSync(app.outdir, { recursive: true, force: true });
    }
  });
});
