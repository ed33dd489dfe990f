// Route templates ("/api/items/:id") matched against request paths: the http_route label of
// ingress (src/layers/route.ts) and of each egress upstream's calls. A path no template matches
// gets "", so a raw path never becomes a label value. Templates are compiled once; literal
// templates are one Map lookup, templates with parameters one precompiled RegExp each.

export interface RouteMatcher {
  /** the matching template (the config's own string), "" when none matches */
  match(path: string): string;
}

/**
 * Template syntax: literal segments, ":name" for exactly one non-empty segment, and a final "*"
 * for the rest of the path. A trailing slash on the request path is ignored. Literal templates
 * win over parameterised ones ("/api/items/new" before "/api/items/:id"); among parameterised
 * templates the first in config order wins.
 */
export function compileRoutes(templates: readonly string[]): RouteMatcher {
  const literal = new Map<string, string>();
  const patterns: Array<{ re: RegExp; template: string }> = [];
  for (const template of templates) {
    const segments = template.split('/').filter(Boolean);
    if (segments.every((s) => !s.startsWith(':') && s !== '*')) {
      if (!literal.has(normalise(template))) literal.set(normalise(template), template);
      continue;
    }
    const body = segments
      .map((s, i) => {
        if (s === '*' && i === segments.length - 1) return '(?:/.*)?';
        if (s.startsWith(':')) return '/[^/]+';
        return '/' + s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('');
    patterns.push({ re: new RegExp(`^${body}/?$`), template });
  }
  return {
    match(path) {
      const hit = literal.get(normalise(path));
      if (hit !== undefined) return hit;
      for (let i = 0; i < patterns.length; i++) if (patterns[i].re.test(path)) return patterns[i].template;
      return '';
    },
  };
}

function normalise(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
