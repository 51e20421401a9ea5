import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { publicProps, PublicProp } from '../support/public-api';

// Building a TypeScript program over the entry and the provider declarations it imports takes
// seconds on a loaded machine.
jest.setTimeout(120_000);

const repo = resolve(__dirname, '..', '..');

describe('public props of surgeguard/constructs', () => {
  let props: PublicProp[];
  beforeAll(() => {
    props = publicProps(repo);
  });

  it('covers the props of the constructs a consumer composes, and the interfaces their props reach', () => {
    const interfaces = new Set(props.map((p) => p.name.split('.')[0]));
    for (const name of ['NetworkProps', 'InferenceClusterProps', 'RegionalLoadBalancerProps', 'GlobalTrafficManagerProps', 'InferenceWorkloadsProps', 'ModelServerProps', 'ProxyWorkloadProps', 'ModelWeightsSource', 'SecretEnv', 'RuntimeArtifact']) {
      expect(interfaces).toContain(name);
    }
  });

  it('documents every public prop with a doc comment', () => {
    expect(props.filter((p) => p.description === '').map((p) => `${p.name} (${p.location})`)).toEqual([]);
  });

  it('states the @default of every optional public prop', () => {
    expect(props.filter((p) => p.optional && p.default === undefined).map((p) => `${p.name} (${p.location})`)).toEqual([]);
  });

  it('reports an undocumented prop, an optional prop without @default, and one reached only through another interface', () => {
    const fixture = mkdtempSync(join(tmpdir(), 'surgeguard-public-api-'));
    try {
      mkdirSync(join(fixture, 'constructs'));
      writeFileSync(join(fixture, 'tsconfig.lib.json'), JSON.stringify({ compilerOptions: { strict: true, types: [] }, files: ['constructs/index.ts'] }));
      writeFileSync(
        join(fixture, 'constructs', 'index.ts'),
        [
          'interface Sizing {',
          '  readonly min: number;',
          '}',
          'export interface ThingProps {',
          '  /** The name. */',
          '  readonly name: string;',
          '  readonly size: Sizing;',
          '  /** How many. */',
          '  readonly count?: number;',
          '  /** Where. @default - nowhere */',
          '  readonly place?: string;',
          '}',
          '',
        ].join('\n'),
      );
      const found = publicProps(fixture);
      expect(found.filter((p) => p.description === '').map((p) => p.name)).toEqual(['Sizing.min', 'ThingProps.size']);
      expect(found.filter((p) => p.optional && p.default === undefined).map((p) => p.name)).toEqual(['ThingProps.count']);
      expect(found.find((p) => p.name === 'ThingProps.place')).toMatchObject({ description: 'Where.', default: '- nowhere' });
    } finally {
      rmSync(fixture, { recursive: true, force: true });
    }
  });
});
