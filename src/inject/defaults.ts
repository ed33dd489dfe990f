// The inject command's defaults, apart from its code so that `sidelight --help` can name them.
import { VERSION } from '../version.js';

export const DEFAULT_IMAGE = `sidelight:${VERSION}`;
export const DEFAULT_CONFIG_MAP = 'sidelight';
