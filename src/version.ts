// Read from package.json at build time (the bundle inlines it), so there is one place to bump.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
