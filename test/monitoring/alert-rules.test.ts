import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ALERT_GROUPS, AlertGroup, renderRuleFile } from '../../monitoring/alert-rules';
import { METRIC } from '../../contract/metrics';
import { RULE_FILE_PATH } from '../../monitoring/render';
import { THRESHOLDS } from '../../monitoring/thresholds';

const ROOT = join(__dirname, '..', '..');
const UNIT_TESTS = join(ROOT, 'monitoring', 'promtool', 'alerts.test.yml');

function promtool(...args: string[]): { status: number; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool could not run (install the Debian package "prometheus"): ${r.error.message}`);
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** Lays out <dir>/generated/<rules> and <dir>/promtool/alerts.test.yml as in the repository. */
function workspace(groups: readonly AlertGroup[]): { dir: string; rules: string; tests: string } {
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-rules-'));
  const rules = join(dir, 'generated', 'surgeguard-alerts.rules.yml');
  const tests = join(dir, 'promtool', 'alerts.test.yml');
  mkdirSync(join(dir, 'generated'));
  mkdirSync(join(dir, 'promtool'));
  writeFileSync(rules, renderRuleFile(groups));
  copyFileSync(UNIT_TESTS, tests);
  return { dir, rules, tests };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('alert rules', () => {
  beforeAll(() => {
    // Fail loudly when promtool is missing rather than skipping the check.
    execFileSync('promtool', ['--version'], { stdio: 'pipe', timeout: 10_000 });
  });

  it('pass promtool check rules', () => {
    const ws = workspace(ALERT_GROUPS);
    dirs.push(ws.dir);
    const r = promtool('check', 'rules', ws.rules);
    expect(r.output).toContain('SUCCESS: 9 rules found');
    expect(r.status).toBe(0);
  });

  it('fire on series that cross their thresholds and stay silent on those that do not (promtool test rules)', () => {
    const ws = workspace(ALERT_GROUPS);
    dirs.push(ws.dir);
    const r = promtool('test', 'rules', ws.tests);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('make the promtool unit tests fail when a threshold is loosened', () => {
    // Proves the unit tests constrain the thresholds: the same tests against rules whose
    // backlog and error-ratio thresholds were doubled, and whose members-without-capacity count
    // must exceed 2 instead of 0, must fail on exactly those alerts.
    const loosened = ALERT_GROUPS.map((g) => ({
      ...g,
      rules: g.rules.map((r) => ({
        ...r,
        expr: r.expr
          .replace(`> ${THRESHOLDS.queueBacklog}`, `> ${THRESHOLDS.queueBacklog * 2}`)
          .replace(`> ${THRESHOLDS.errorRatio}`, `> ${THRESHOLDS.errorRatio * 4}`)
          .replace(/(members_without_capacity_gauges\)) > 0$/, '$1 > 2'),
      })),
    }));
    const ws = workspace(loosened);
    dirs.push(ws.dir);
    const r = promtool('test', 'rules', ws.tests);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('alertname: SurgeguardJobBacklog');
    expect(r.output).toContain('alertname: SurgeguardHighErrorRatio');
    expect(r.output).toContain('alertname: SurgeguardMemberCapacityUnknown');
    expect(r.output).not.toContain('alertname: SurgeguardCircuitBreakerOpen');
  });

  it('keep the committed rule file in step with monitoring/alert-rules.ts', () => {
    const committed = readFileSync(join(ROOT, RULE_FILE_PATH), 'utf8');
    expect(committed).toBe(renderRuleFile());
  });

  it('cover every threshold of the brief with the right duration and severity', () => {
    const rules = Object.fromEntries(ALERT_GROUPS.flatMap((g) => g.rules).map((r) => [r.alert, r]));
    expect(rules.SurgeguardHighErrorRatio).toMatchObject({ for: '2m', severity: 'critical' });
    expect(rules.SurgeguardHighErrorRatio.expr).toMatch(/status=~"5\.\."\}\[2m\]\)\) \/ sum by \(pool\).* > 0\.05$/);
    expect(rules.SurgeguardHighP99Latency).toMatchObject({ for: '10m', severity: 'critical' });
    expect(rules.SurgeguardHighP99Latency.expr).toMatch(/^histogram_quantile\(0\.99, .* > 2$/);
    expect(rules.SurgeguardHighMedianLatency.expr).toMatch(/^histogram_quantile\(0\.5, .* > 1$/);
    expect(rules.SurgeguardJobBacklog).toMatchObject({ for: '3m' });
    expect(rules.SurgeguardJobBacklog.expr).toMatch(/> 1000$/);
    expect(rules.SurgeguardClientConnectionsSaturated.expr).toMatch(/^max by \(instance\) \(surgeguard_proxy_client_connections \/ surgeguard_proxy_client_connections_max\) > 0\.9$/);
    expect(rules.SurgeguardCircuitBreakerOpen.expr).toMatch(/== 2$/);
    expect(rules.SurgeguardSheddingCriticalTraffic).toMatchObject({ severity: 'critical' });
    expect(rules.SurgeguardSheddingRequests).toBeDefined();
    // A configuration matter, not an outage: a ticket, after long enough that no starting pod fires it.
    expect(rules.SurgeguardMemberCapacityUnknown).toMatchObject({ for: '10m', severity: 'warning' });
    expect(rules.SurgeguardMemberCapacityUnknown.expr).toBe('max by (pool) (surgeguard_proxy_members_without_capacity_gauges) > 0');
  });

  it('use only metric names the runtimes export (contract/metrics.ts)', () => {
    const known = new Set<string>(Object.values(METRIC));
    const used = ALERT_GROUPS.flatMap((g) => g.rules).flatMap((r) => r.expr.match(/surgeguard_[a-z_]+/g) ?? []);
    expect(used.length).toBeGreaterThan(8);
    for (const name of used) expect(known.has(name.replace(/_bucket$/, ''))).toBe(true);
  });

  it('render valid YAML with unique alert names and the labels routing relies on', () => {
    const doc = parse(renderRuleFile()) as { groups: { rules: { alert: string; labels: Record<string, string> }[] }[] };
    const names = doc.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(new Set(names).size).toBe(names.length);
    for (const r of doc.groups.flatMap((g) => g.rules)) {
      expect(['critical', 'warning']).toContain(r.labels.severity);
      expect(r.labels.service).toBe('surgeguard');
    }
  });
});
