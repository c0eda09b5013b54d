// Kept for the suites that import it: OssdServer itself now takes `extraArgs` and `env`.
export { OssdServer as OssdServerExtra } from './helpers.mjs';
