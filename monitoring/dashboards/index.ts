import overview from './surgeguard-overview.json';

/**
 * The Grafana dashboards, by file name. The JSON files next to this module are the reviewable
 * source; importing them (rather than reading the directory at synth time) compiles them into
 * `dist/` with the app. Add a dashboard: drop its JSON here and list it below (a test checks
 * that every JSON file of this directory is listed).
 */
export const DASHBOARDS: Readonly<Record<string, unknown>> = {
  'surgeguard-overview.json': overview,
};
