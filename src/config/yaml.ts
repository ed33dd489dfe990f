// The YAML parser, behind a dynamic import in load.ts: only a config file that is not plain JSON loads it.
import { parse } from 'yaml';

export const parseYaml = (text: string): unknown => parse(text, { prettyErrors: true });
