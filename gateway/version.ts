import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findPackageRoot } from '../common/package-root';

/** The package version, read once from package.json (works from sources and from dist/). */
export const VERSION: string = (
  JSON.parse(readFileSync(path.join(findPackageRoot(__dirname), 'package.json'), 'utf8')) as { version: string }
).version;
